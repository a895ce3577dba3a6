"""Shape rules for broadcasting binary arithmetic (``add``, ``sub``, ``mul``, ``div``...).

On int64 scalars (shape arithmetic such as ``x.size(1) * x.size(2)``) the result's
value is computed too, so later reshapes know it.
"""
import operator

from graphnn.ops.dims import broadcast
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule

_INT_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
                   "floordiv": operator.floordiv}


@shape_rule("add", "sub", "mul", "div", "floordiv", "pow")
def binary(node, a, b):
    if a.dtype != b.dtype:
        raise ShapeMismatch(f"combines {a.dtype} with {b.dtype}")
    shape = broadcast(a.shape, b.shape)
    known = None
    if isinstance(a.known, int) and isinstance(b.known, int) and node.op in _INT_ARITHMETIC:
        known = _INT_ARITHMETIC[node.op](a.known, b.known)
    return TensorType(shape, a.dtype, known)
