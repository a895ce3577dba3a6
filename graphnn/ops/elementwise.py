"""Shape rules for elementwise ops: broadcasting binary arithmetic, comparisons and
logic, ``where``, unary math, ``clamp`` and ``cast``.

The frontend casts operands to one dtype first (torch's promotion), so a binary op
whose operands differ is a graphnn bug, reported as such. On int64 scalars (shape
arithmetic such as ``x.size(1) * x.size(2)``) the result's value is computed too, so
later reshapes know it.
"""
import operator

from graphnn.ops.dims import broadcast
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule

_INT_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
                   "floordiv": operator.floordiv}
ARITHMETIC = ("add", "sub", "mul", "div", "floordiv", "truncdiv", "pow", "remainder", "fmod",
              "maximum", "minimum")
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
LOGICAL = ("logical_and", "logical_or", "logical_xor")
UNARY = ("neg", "abs", "sign", "exp", "log", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "erf",
         "floor", "ceil", "round", "clamp")


def _same_dtype(*values):
    dtypes = sorted({v.dtype for v in values})
    if len(dtypes) > 1:
        raise ShapeMismatch(f"combines {' and '.join(dtypes)} (graphnn should have cast them)")
    return dtypes[0]


@shape_rule(*ARITHMETIC)
def arithmetic(node, a, b):
    dtype = _same_dtype(a, b)
    shape = broadcast(a.shape, b.shape)
    known = None
    if isinstance(a.known, int) and isinstance(b.known, int) and node.op in _INT_ARITHMETIC:
        known = _INT_ARITHMETIC[node.op](a.known, b.known)
    return TensorType(shape, dtype, known)


@shape_rule(*COMPARISONS, *LOGICAL)
def comparison(node, a, b):
    _same_dtype(a, b)
    return TensorType(broadcast(a.shape, b.shape), "bool")


@shape_rule("where")
def where(node, condition, a, b):
    if condition.dtype != "bool":
        raise ShapeMismatch(f"expects a bool condition, gets {condition.dtype}")
    dtype = _same_dtype(a, b)
    return TensorType(broadcast(condition.shape, broadcast(a.shape, b.shape)), dtype)


@shape_rule(*UNARY, "logical_not")
def unary(node, x):
    return TensorType(x.shape, x.dtype)


@shape_rule("cast")
def cast(node, x):
    """The value of a cast int scalar stays known (``x.size(0).long()``)."""
    dtype = node.attrs["dtype"]
    known = x.known if dtype.startswith("int") else None
    return TensorType(x.shape, dtype, known)
