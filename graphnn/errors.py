"""User-facing errors.

Anything a user can cause (a bad model file, a bad --input, a shape mismatch, an
unsupported layer) raises a GraphnnError whose message alone tells them what went
wrong, where, and what to do. The CLI prints that one line and exits 2; any other
exception is a graphnn bug and may show a traceback.
"""


class GraphnnError(Exception):
    """Base class: the message is shown to the user as is."""


class ModelLoadError(GraphnnError):
    """The model file could not be imported, or no model / inputs were found in it."""


class InputSpecError(GraphnnError):
    """An --input spec or example input is malformed."""


class TraceError(GraphnnError):
    """The model could not be traced (e.g. data-dependent control flow)."""


class UnsupportedError(GraphnnError):
    """A layer, function or argument graphnn cannot convert (yet)."""


class MissingRuleError(UnsupportedError):
    """A layer, function or method call no rule converts (not an argument a rule refuses):
    ``auto`` then tries torch.export, which decomposes ATen ops without a rule."""


class ShapeError(GraphnnError):
    """Shapes do not fit: names the layer, its source line, what it expected and what it got."""


class DeviceError(GraphnnError):
    """The requested execution device cannot be used."""


class OpsetError(GraphnnError):
    """The requested ONNX opset is outside what graphnn and onnxruntime support."""
