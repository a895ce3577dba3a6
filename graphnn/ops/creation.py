"""Shape rules for tensors made from sizes: ``arange`` (a 1-d range whose bounds are
attrs, or ``None`` for the next int64 scalar input) and ``eye_like`` (ones on the
diagonal of a matrix shaped like its input)."""
import sympy

from graphnn.ops.elementwise import dim_expression, expression
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def arange(node, *dynamic):
    inputs = iter(dynamic)
    bounds = [node.attrs[k] if node.attrs[k] is not None else next(inputs).known
              for k in ("start", "end", "step")]
    if bounds[2] == 0:
        raise ShapeMismatch("has step 0")
    return TensorType((_length(node, *bounds),), node.attrs["dtype"])


def _length(node, start, end, step):
    """ceil((end - start) / step), at least 0: an int, a dim expression (``seq``,
    ``seq-1``) when the sizes are symbols, or a fresh symbol when the algebra does not
    give a polynomial (a strided range over a dynamic size)."""
    fresh = f"{node.name}_d0"
    if all(isinstance(v, (int, float)) for v in (start, end, step)):
        return max(0, -int(-(end - start) // step))
    terms = [sympy.nsimplify(v) if isinstance(v, float) else expression(v) for v in (start, end, step)]
    if any(t is None for t in terms):
        return fresh
    length = sympy.simplify(sympy.ceiling((terms[1] - terms[0]) / terms[2]))
    if length.is_Integer:
        return max(0, int(length))
    if not length.is_polynomial() or any(not c.is_Integer for c in sympy.Poly(length).coeffs()):
        return fresh
    return dim_expression(length)


def eye_like(node, x):
    if len(x.shape) != 2:
        raise ShapeMismatch(f"expects a matrix, gets a {len(x.shape)}-d tensor")
    return TensorType(x.shape, x.dtype)


ARANGE = define("arange", shape=arange, macs=NO_MACS)
EYE_LIKE = define("eye_like", shape=eye_like, macs=NO_MACS)
