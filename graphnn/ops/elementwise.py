"""Shape rules for elementwise ops: broadcasting binary arithmetic, comparisons and
logic, ``where``, unary math, ``clamp`` and ``cast``.

The frontend casts operands to one dtype first (torch's promotion), so a binary op
whose operands differ is a graphnn bug, reported as such. On int64 scalars (shape
arithmetic such as ``x.size(1) * x.size(2)``) the result's value is computed too, so
later reshapes know it: an int, or a dim expression such as ``2*seq`` or ``seq-1`` when
a symbol takes part (torch.export hands such derived sizes over; they stay symbolic).
"""
import operator
from typing import Optional

from graphnn.ops.dims import broadcast, dim_expression, expression  # noqa: F401 (expression: its old home)
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def _same_dtype(*values):
    dtypes = sorted({v.dtype for v in values})
    if len(dtypes) > 1:
        raise ShapeMismatch(f"combines {' and '.join(dtypes)} (graphnn should have cast them)")
    return dtypes[0]


def arithmetic(node, a, b):
    dtype = _same_dtype(a, b)
    shape = broadcast(a.shape, b.shape)
    known = None
    if a.known is not None and b.known is not None and node.op in _INT_ARITHMETIC:
        known = known_arithmetic(node.op, a.known, b.known)
    elif isinstance(a.known, int) and isinstance(b.known, int) and b.known and node.op == REMAINDER.name:
        known = a.known % b.known  # static sizes only (DaViT's pad to a multiple: -W % stride)
    return TensorType(shape, dtype, known)


def known_arithmetic(op: str, a, b) -> Optional[object]:
    """``op`` on two known sizes: an int, or an expression string (``2*seq``, ``seq-1``)."""
    if isinstance(a, int) and isinstance(b, int):
        return _INT_ARITHMETIC[op](a, b)
    x, y = expression(a), expression(b)
    if x is None or y is None:
        return None
    result = _INT_ARITHMETIC[op](x, y)
    return int(result) if result.is_Integer else dim_expression(result)


def comparison(node, a, b):
    _same_dtype(a, b)
    return TensorType(broadcast(a.shape, b.shape), "bool")


def where(node, condition, a, b):
    if condition.dtype != "bool":
        raise ShapeMismatch(f"expects a bool condition, gets {condition.dtype}")
    dtype = _same_dtype(a, b)
    return TensorType(broadcast(condition.shape, broadcast(a.shape, b.shape)), dtype)


def unary(node, x):
    return TensorType(x.shape, x.dtype)


def predicate(node, x):
    """isnan / isinf: a bool of the input's shape."""
    return TensorType(x.shape, "bool")


def cast(node, x):
    """The value of a cast int scalar stays known (``x.size(0).long()``)."""
    dtype = node.attrs["dtype"]
    known = x.known if dtype.startswith("int") else None
    return TensorType(x.shape, dtype, known)


ADD = define("add", shape=arithmetic, macs=NO_MACS)
SUB = define("sub", shape=arithmetic, macs=NO_MACS)
MUL = define("mul", shape=arithmetic, macs=NO_MACS)
DIV = define("div", shape=arithmetic, macs=NO_MACS)
FLOORDIV = define("floordiv", shape=arithmetic, macs=NO_MACS)
TRUNCDIV = define("truncdiv", shape=arithmetic, macs=NO_MACS)
POW = define("pow", shape=arithmetic, macs=NO_MACS)
REMAINDER = define("remainder", shape=arithmetic, macs=NO_MACS)
FMOD = define("fmod", shape=arithmetic, macs=NO_MACS)
MAXIMUM = define("maximum", shape=arithmetic, macs=NO_MACS)
MINIMUM = define("minimum", shape=arithmetic, macs=NO_MACS)
EQ = define("eq", shape=comparison, macs=NO_MACS)
NE = define("ne", shape=comparison, macs=NO_MACS)
LT = define("lt", shape=comparison, macs=NO_MACS)
LE = define("le", shape=comparison, macs=NO_MACS)
GT = define("gt", shape=comparison, macs=NO_MACS)
GE = define("ge", shape=comparison, macs=NO_MACS)
LOGICAL_AND = define("logical_and", shape=comparison, macs=NO_MACS)
LOGICAL_OR = define("logical_or", shape=comparison, macs=NO_MACS)
LOGICAL_XOR = define("logical_xor", shape=comparison, macs=NO_MACS)
WHERE = define("where", shape=where, macs=NO_MACS)
NEG = define("neg", shape=unary, macs=NO_MACS)
ABS = define("abs", shape=unary, macs=NO_MACS)
SIGN = define("sign", shape=unary, macs=NO_MACS)
EXP = define("exp", shape=unary, macs=NO_MACS)
LOG = define("log", shape=unary, macs=NO_MACS)
SQRT = define("sqrt", shape=unary, macs=NO_MACS)
RSQRT = define("rsqrt", shape=unary, macs=NO_MACS)
RECIPROCAL = define("reciprocal", shape=unary, macs=NO_MACS)
SIN = define("sin", shape=unary, macs=NO_MACS)
COS = define("cos", shape=unary, macs=NO_MACS)
ERF = define("erf", shape=unary, macs=NO_MACS)
FLOOR = define("floor", shape=unary, macs=NO_MACS)
CEIL = define("ceil", shape=unary, macs=NO_MACS)
ROUND = define("round", shape=unary, macs=NO_MACS)
CLAMP = define("clamp", shape=unary, macs=NO_MACS)
TAN = define("tan", shape=unary, macs=NO_MACS)
ASIN = define("asin", shape=unary, macs=NO_MACS)
ACOS = define("acos", shape=unary, macs=NO_MACS)
ATAN = define("atan", shape=unary, macs=NO_MACS)
SINH = define("sinh", shape=unary, macs=NO_MACS)
COSH = define("cosh", shape=unary, macs=NO_MACS)
ASINH = define("asinh", shape=unary, macs=NO_MACS)
ACOSH = define("acosh", shape=unary, macs=NO_MACS)
ATANH = define("atanh", shape=unary, macs=NO_MACS)
LOG1P = define("log1p", shape=unary, macs=NO_MACS)
EXPM1 = define("expm1", shape=unary, macs=NO_MACS)
ISNAN = define("isnan", shape=predicate, macs=NO_MACS)
ISINF = define("isinf", shape=predicate, macs=NO_MACS)
LOGICAL_NOT = define("logical_not", shape=unary, macs=NO_MACS)
CAST = define("cast", shape=cast, macs=NO_MACS)

# what int64 scalars (sizes) computed with these ops are known to be
_INT_ARITHMETIC = {ADD.name: operator.add, SUB.name: operator.sub, MUL.name: operator.mul,
                   FLOORDIV.name: operator.floordiv}
