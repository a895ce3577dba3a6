"""graphnn: a graph-IR compiler for PyTorch models.

``graphnn.trace`` turns an nn.Module into the IR, ``graphnn.export`` writes ONNX from
it, ``graphnn.check_parity`` compares onnxruntime with PyTorch.
"""
__version__ = "0.1.0"

from graphnn.api import check_parity, export, lower, optimize, trace  # noqa: E402

__all__ = ["trace", "optimize", "lower", "export", "check_parity", "__version__"]
