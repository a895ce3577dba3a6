"""IR -> ONNX with our own lowering rules (onnx.helper), one module per op family."""
import importlib
import pkgutil

from graphnn.backend.onnx import lowering as _lowering
from graphnn.backend.onnx.assembler import to_onnx
from graphnn.backend.onnx.opsets import DEFAULT_OPSET, MIN_OPSET, max_opset, check_opset

for _info in pkgutil.iter_modules(_lowering.__path__):
    importlib.import_module(f"{_lowering.__name__}.{_info.name}")

__all__ = ["to_onnx", "DEFAULT_OPSET", "MIN_OPSET", "max_opset", "check_opset"]
