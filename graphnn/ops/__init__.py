"""The canonical op vocabulary and its shape rules.

One module per op family registers ``@shape_rule`` functions; importing this package
loads them all, so adding a family means adding a file.
"""
import importlib
import pkgutil

from graphnn.ops.registry import ShapeMismatch, TensorType, infer_node, shape_rule, shape_rule_for

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in {"registry", "dims"}:
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["ShapeMismatch", "TensorType", "infer_node", "shape_rule", "shape_rule_for"]
