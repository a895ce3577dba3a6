"""graphnn: a graph-IR compiler for PyTorch models.

``graphnn.trace`` turns an nn.Module into the IR, ``graphnn.export`` writes ONNX from
it, ``graphnn.check_parity`` compares onnxruntime with PyTorch, ``graphnn.generate`` decodes
greedily with an exported language model.

The API is imported on first use: the pytest plugin (``graphnn.pytest_plugin``) loads in
every pytest run of an environment with graphnn installed, and must not import torch there.
"""
from graphnn.version import __version__

__all__ = ["trace", "optimize", "lower", "export", "check_parity", "generate", "__version__"]
_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str):
    if name in _API:
        from graphnn import api
        return getattr(api, name)
    raise AttributeError(f"module 'graphnn' has no attribute {name!r}")
