"""Shape rules of ``topk`` (k largest or smallest along ``dim``, also what ``sort`` and
``argsort`` are: k the whole dim) and ``cumprod`` (the running product keeps the shape)."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def topk(node, x):
    """(values, int64 indices), dim ``dim`` cut to ``k`` (None: the whole dim, a sort)."""
    if x.dtype == "bool":
        raise ShapeMismatch("expects a number tensor, gets bool (graphnn should have cast it)")
    dim, k = normalize_axis(node.attrs["dim"], len(x.shape)), node.attrs["k"]
    size = x.shape[dim]
    if k is not None and isinstance(size, int) and k > size:
        raise ShapeMismatch(f"expects k <= {size} (the size of dim {dim}), gets k={k}")
    shape = tuple(k if i == dim and k is not None else d for i, d in enumerate(x.shape))
    return [TensorType(shape, x.dtype), TensorType(shape, "int64")]


def cumprod(node, x):
    if x.dtype == "bool":
        raise ShapeMismatch("expects a number tensor, gets bool (graphnn should have cast it)")
    return TensorType(x.shape, x.dtype)


TOPK = define("topk", shape=topk, macs=NO_MACS)
CUMPROD = define("cumprod", shape=cumprod, macs=NO_MACS)
