"""Shape rules of ``topk`` (k largest or smallest along ``dim``, also what ``sort`` and
``argsort`` are: k the whole dim) and the running reductions along ``dim``, which keep the
shape: ``cumprod``, ``logcumsumexp``, and ``cummax`` / ``cummin`` (values and int64 indices)."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType
from graphnn.tensors import is_float


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


def running_extreme(node, x):
    """(values, int64 indices of where each running max / min was last met)."""
    return [cumprod(node, x), TensorType(x.shape, "int64")]


def logcumsumexp(node, x):
    if not is_float(x.dtype):
        raise ShapeMismatch(f"expects a float tensor, gets {x.dtype}")
    return TensorType(x.shape, x.dtype)


TOPK = define("topk", shape=topk, macs=NO_MACS)
CUMPROD = define("cumprod", shape=cumprod, macs=NO_MACS)
CUMMAX = define("cummax", shape=running_extreme, macs=NO_MACS)
CUMMIN = define("cummin", shape=running_extreme, macs=NO_MACS)
LOGCUMSUMEXP = define("logcumsumexp", shape=logcumsumexp, macs=NO_MACS)
