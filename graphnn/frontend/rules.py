"""Mapping rules from torch (layers, functions, tensor methods) to canonical IR ops.

This is where canonicalisation happens: ``nn.ReLU()``, ``F.relu``, ``torch.relu`` and
``x.relu()`` all register one rule that emits one ``relu`` op, through its OpDef (``RELU``). Rules know torch, not
fx: a rule receives a Builder, then the call's arguments exactly as torch would (tensors
appear as ``Ref``), so Python itself binds defaults and keywords. Any frontend that can
say "this module / function / method was called with these arguments" can reuse them.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import torch

from graphnn.errors import MissingRuleError, ShapeError, UnsupportedError
from graphnn.ir import Graph, Value
from graphnn.ops import OpDef, infer_node
from graphnn.ops.registry import shape_error
from graphnn.ops.structural import CONSTANT
from graphnn.tensors import is_complex

COMPLEX_REACHES = "a complex tensor reaches {}; take .abs()/.real/.imag/torch.view_as_real first"


@dataclass(frozen=True)
class Ref:
    """A tensor in the IR under construction (the name of an IR value)."""

    name: str


@dataclass(frozen=True)
class ShapeRef:
    """``x.shape`` / ``x.size()``: indexing it yields per-dim ``size`` values."""

    tensor: Ref


Rule = Callable[..., Any]
_MODULE_RULES: dict[type, Rule] = {}
_FUNCTION_RULES: dict[Any, Rule] = {}
_METHOD_RULES: dict[str, Rule] = {}
# Rules for calls given a complex tensor (layers/spectral.py): ``x.abs()`` of a spectrum is a
# magnitude, not ONNX Abs. Looked up before the plain rule only when an argument is complex.
_COMPLEX_FUNCTION_RULES: dict[Any, Rule] = {}
_COMPLEX_METHOD_RULES: dict[str, Rule] = {}
_KEPT_WHOLE: list[tuple[Any, str]] = []  # (module, name) of Python functions fx must not trace into


def _register(table: dict, keys: Sequence, what: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for key in keys:
            if key in table and table[key] is not fn:  # aliases (F.relu_ is torch.relu_) are fine
                raise RuntimeError(f"{what} rule for {key!r} registered twice")
            table[key] = fn
        return fn

    return register


def module_rule(*classes: type):
    """``fn(builder, module, *args, **kwargs)`` converts a call of a torch.nn layer."""
    return _register(_MODULE_RULES, classes, "module")


def function_rule(*functions: Any):
    """``fn(builder, *args, **kwargs)`` converts a call of a torch function or operator.

    A function from an optional package (torchvision) is named by its qualified name,
    ``"torchvision.ops.stochastic_depth.stochastic_depth"``, so graphnn need not import it."""
    return _register(_FUNCTION_RULES, functions, "function")


def kept_whole_under_fx(module: Any, *names: str):
    """Register rules for Python functions of ``module`` that fx would trace into, although
    their body cannot be traced (``pack_padded_sequence`` sorts and packs by data): under fx
    they stay one call (as ``torch.fx.wrap`` does), which the rule converts."""
    _KEPT_WHOLE.extend((module, name) for name in names)
    return function_rule(*(getattr(module, name) for name in names))


def kept_whole() -> list[tuple[Any, str]]:
    return list(_KEPT_WHOLE)


def method_rule(*names: str):
    """``fn(builder, self_tensor, *args, **kwargs)`` converts a Tensor method call."""
    return _register(_METHOD_RULES, names, "method")


def complex_rule(functions: Sequence = (), methods: Sequence[str] = ()):
    """``fn(builder, *args, **kwargs)`` converts a call of ``functions`` / ``methods`` whose
    arguments hold a complex tensor; the plain rule keeps every other call."""
    def register(fn: Rule) -> Rule:
        _register(_COMPLEX_FUNCTION_RULES, functions, "complex function")(fn)
        _register(_COMPLEX_METHOD_RULES, methods, "complex method")(fn)
        return fn

    return register


def _complex_aware(rule: Optional[Rule], complex_rule: Optional[Rule]) -> Optional[Rule]:
    """``rule``, or ``complex_rule`` for a call with a complex tensor among its arguments."""
    if complex_rule is None or rule is None:
        return rule or complex_rule

    @functools.wraps(rule)  # keeps the plain rule's signature: the export frontend binds by it
    def dispatch(b, *args, **kwargs):
        chosen = complex_rule if _holds_complex(b, [*args, *kwargs.values()]) else rule
        return chosen(b, *args, **kwargs)
    return dispatch


def _holds_complex(b: "Builder", values: Sequence) -> bool:
    for value in values:
        if isinstance(value, (list, tuple)) and _holds_complex(b, value):
            return True
        if isinstance(value, Ref) and is_complex(b.dtype(value)):
            return True
    return False


def call_rule(function: Any, builder: "Builder", *args: Any, **kwargs: Any) -> Any:
    """Convert a call of ``function`` with its rule: rules composed of other rules use this."""
    return function_rule_for(function)(builder, *args, **kwargs)


def forget_function_rule(function: Any) -> None:
    """Drop a function's rule (a test's toy op), so later traces never see it."""
    _FUNCTION_RULES.pop(function, None)


def module_rule_for(module: torch.nn.Module) -> Optional[Rule]:
    """The rule of the layer's exact class (a subclass may change forward), except for
    parametrized layers (``weight_norm``, ``spectral_norm``): torch swaps in a subclass that
    only recomputes the weight on access, so the original layer's rule reads it as a constant."""
    cls = type(module)
    if torch.nn.utils.parametrize.is_parametrized(module):
        cls = cls.__bases__[0]
    return _MODULE_RULES.get(cls)


def function_rule_for(function: Any) -> Optional[Rule]:
    try:
        rule = _FUNCTION_RULES.get(function)
    except TypeError:  # unhashable target
        return None
    if rule is None:
        qualified = f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', '')}"
        rule = _FUNCTION_RULES.get(qualified)
    return _complex_aware(rule, _COMPLEX_FUNCTION_RULES.get(function))


def method_rule_for(name: str) -> Optional[Rule]:
    return _complex_aware(_METHOD_RULES.get(name), _COMPLEX_METHOD_RULES.get(name))


def supported_layers() -> list[str]:
    """``nn.Conv2d``, ``torch.ao.nn.quantized.dynamic.Linear``: how users name each layer."""
    return sorted({layer_label(cls) for cls in _MODULE_RULES})


# Advice for layer families graphnn refuses as a whole, by the start of their public path.
_LAYER_HINTS = {
    "torch.ao.nn.quantized.dynamic.": "quantize only the Linear layers, which graphnn converts: "
                                      "quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)",
}


_OPAQUE_LAYERS = contextvars.ContextVar("graphnn_opaque_layers", default=False)


@contextlib.contextmanager
def opaque_layers() -> Iterator[None]:
    """Inside, a torch.nn layer without a rule becomes an ``opaque`` node with the shapes a real
    forward pass gave, instead of an error: ``graphnn graph`` answers "what are the layers"
    for every model torch can run. Nothing lowers an opaque node, so export never enters this."""
    token = _OPAQUE_LAYERS.set(True)
    try:
        yield
    finally:
        _OPAQUE_LAYERS.reset(token)


def opaque_layers_allowed() -> bool:
    return _OPAQUE_LAYERS.get()


def unsupported_layer(where: str, module: torch.nn.Module) -> MissingRuleError:
    """The one message for a layer without a rule: which layer, where, and what to do."""
    label = layer_label(type(module))
    hint = next((h for prefix, h in _LAYER_HINTS.items() if label.startswith(prefix)),
                f"`graphnn layers` lists the {len(supported_layers())} supported ones")
    return MissingRuleError(f"{where}: layer {label} is not supported by graphnn yet ({hint})")


def layer_label(cls: type) -> str:
    """A layer class as users spell it: ``nn.LSTM`` for torch.nn, else its public path
    (``torch.ao.nn.quantized.dynamic.LSTM``, not ``nn.LSTM``: the two are different layers)."""
    module = cls.__module__
    if module.startswith("torch.nn.modules"):
        return f"nn.{cls.__name__}"
    parts = module.split(".")
    if "modules" in parts:  # torch.ao.nn.quantized.dynamic.modules.rnn -> torch.ao.nn.quantized.dynamic
        parts = parts[:parts.index("modules")]
    return f"{'.'.join(parts)}.{cls.__name__}"


def supported_functions() -> list[str]:
    """Public spellings only: fx's internal guards and builtins are not for users."""
    labels = {f if isinstance(f, str) else function_label(f) for f in _FUNCTION_RULES}
    return sorted(label for label in labels if "._" not in label and not label.startswith("builtins."))


def supported_methods() -> list[str]:
    return sorted(name for name in _METHOD_RULES if not name.startswith("_"))


# Where torch's C functions live -> (public namespace, prefix their __name__ carries there)
_PUBLIC_NAMESPACES = {
    "torch._C._nn": ("torch.nn.functional", ""),
    "torch._C._linalg": ("torch.linalg", "linalg_"),
    "torch._C._special": ("torch.special", "special_"),
    "torch._C._fft": ("torch.fft", "fft_"),
    "torch.functional": ("torch", ""),
    "torch._tensor": ("torch", ""),
    "torch._C._VariableFunctions": ("torch", ""),
    "_operator": ("operator", ""),
}


def function_label(target: Any) -> str:
    """How users spell a function: ``torch.nn.functional.relu``, ``torch.linalg.norm``."""
    module = getattr(target, "__module__", None) or "torch._C._VariableFunctions"
    name = getattr(target, "__name__", repr(target))
    namespace, prefix = _PUBLIC_NAMESPACES.get(module, (module, ""))
    if namespace == module and module.startswith("torch._C"):
        namespace = "torch"
    return f"{namespace}.{name.removeprefix(prefix)}"


class Builder:
    """What a rule uses to add IR nodes for one torch call.

    It knows where the call came from (module path and class, source line) so every
    node it emits carries that, and it infers each node's output shapes right away so
    rules can look at input shapes and dtypes, and shape errors surface at trace time.
    """

    def __init__(self, graph: Graph, name: str, module: Optional[str] = None,
                 module_class: Optional[str] = None, source: Optional[str] = None,
                 what: str = ""):
        self.graph = graph
        self.name = name
        self.module = module
        self.module_class = module_class
        self.source = source
        self.what = what or name

    def emit(self, op: OpDef, inputs: Sequence[Ref], params: Optional[dict] = None,
             num_outputs: int = 1, name: Optional[str] = None, **attrs: Any) -> Union[Ref, list[Ref]]:
        """Add one node of ``op`` (its OpDef, never a name spelled again); returns its output
        Ref (a list of Refs when num_outputs > 1)."""
        if not isinstance(op, OpDef):
            raise TypeError(f"Builder.emit takes an OpDef (graphnn.ops), not {op!r}")
        for ref in inputs:
            if not isinstance(ref, Ref):
                raise UnsupportedError(f"{self.where}: {op.name} got a non-tensor input {ref!r}")
            if not op.complex_inputs and is_complex(self.dtype(ref)):
                raise UnsupportedError(f"{self.where}: {COMPLEX_REACHES.format(self.what)}")
        clean = {k: v.detach().cpu() for k, v in (params or {}).items() if v is not None}
        node = self.graph.add_node(
            op.name, [r.name for r in inputs], name=name or self.name, num_outputs=num_outputs,
            attrs=attrs, params=clean, module=self.module, module_class=self.module_class,
            source=self.source,
        )
        infer_node(self.graph, node)
        refs = [Ref(o) for o in node.outputs]
        return refs if num_outputs != 1 else refs[0]

    def child(self, attr: str, module: Optional[torch.nn.Module] = None) -> "Builder":
        """A builder for a sublayer of a composite layer (``self_attn`` of a
        TransformerEncoderLayer, ``layers.0`` of a TransformerEncoder): its nodes are named and
        attributed to ``<this module>.<attr>`` and keep this call's source line."""
        path = f"{self.module}.{attr}" if self.module else attr
        cls = type(module).__name__ if module is not None else self.module_class
        return Builder(self.graph, path, path, cls, self.source, path)

    def call_module(self, attr: str, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        """Convert a sublayer's call with its own module rule, as if fx had seen it."""
        rule = module_rule_for(module)
        child = self.child(attr, module)
        if rule is None:
            raise unsupported_layer(child.where, module)
        return rule(child, module, *args, **kwargs)

    def constant(self, value: Any, dtype: Optional[str] = None, name: Optional[str] = None) -> Ref:
        """A constant tensor node (from a Python number, list or tensor)."""
        tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
        if dtype is not None:
            tensor = tensor.to(getattr(torch, dtype))
        return self.emit(CONSTANT, [], params={"value": tensor}, name=name or f"{self.name}_const")

    def value(self, ref: Ref) -> Value:
        """The IR value behind a Ref (shape and dtype already inferred)."""
        return self.graph.values[ref.name]

    def shape(self, ref: Ref) -> tuple:
        return self.value(ref).shape

    def dtype(self, ref: Ref) -> str:
        return self.value(ref).dtype

    def rank(self, ref: Ref) -> int:
        return len(self.value(ref).shape)

    @property
    def where(self) -> str:
        return f"{self.what} ({self.source})" if self.source else self.what

    def constant_value(self, ref: Optional[Ref]) -> Optional[torch.Tensor]:
        """The tensor behind ``ref`` when it is a constant (fx reads module parameters and
        buffers as constants), else None. Functional spellings (``F.conv2d(x, self.weight)``)
        use it to become the same op, with params, as their layer."""
        producer = self.graph.producer(ref.name) if isinstance(ref, Ref) else None
        return producer.params["value"] if producer is not None and producer.op == "constant" else None

    def is_computed(self, ref) -> bool:
        """Whether ``ref`` is a tensor computed in forward, not a module parameter or buffer."""
        return isinstance(ref, Ref) and self.constant_value(ref) is None

    def module_tensor(self, ref: Optional[Ref], what: str) -> Optional[torch.Tensor]:
        """``constant_value``, refusing a tensor computed in forward (None stays None)."""
        if ref is None:
            return None
        value = self.constant_value(ref)
        if value is None:
            raise self.unsupported(f"a {what} computed in forward (only module parameters and buffers)")
        return value

    def shape_error(self, detail: str) -> ShapeError:
        """A shape error raised by a rule itself, worded like the shape rules' ones."""
        return shape_error(self.graph, self.where, detail)

    def unsupported(self, detail: str) -> UnsupportedError:
        """An error for an argument combination a rule cannot convert."""
        return UnsupportedError(f"{self.where}: {detail} is not supported by graphnn yet")
