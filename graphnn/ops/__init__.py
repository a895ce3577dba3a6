"""The canonical op vocabulary: one OpDef per op (graphnn/ops/opdef.py).

One module per op family defines its ops beside their shape, MAC and label rules;
importing this package loads them all, so adding a family means adding a file.
"""
import importlib
import pkgutil

from graphnn.ops.opdef import NO_MACS, OpDef, all_opdefs, define, opdef
from graphnn.ops.registry import ShapeMismatch, TensorType, infer_node

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in {"registry", "dims", "opdef"}:
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["NO_MACS", "OpDef", "ShapeMismatch", "TensorType", "all_opdefs", "define", "infer_node", "opdef"]
