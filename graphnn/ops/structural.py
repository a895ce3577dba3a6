"""Shape rules for ops that move or name data without computing: constants,
identity, dropout (a no-op in eval mode), and size queries (``x.size(0)``)."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import TensorType
from graphnn.tensors import dtype_name


def constant(node):
    value = node.params["value"]
    known = int(value.item()) if value.dim() == 0 and not value.is_floating_point() else None
    return TensorType(tuple(value.shape), dtype_name(value.dtype), known)


def same_as_input(node, x):
    return TensorType(x.shape, x.dtype, x.known)


def size(node, x):
    """One dim of ``x`` as an int64 scalar (``x.size(0)``); known when static or a symbol."""
    dim = x.shape[normalize_axis(node.attrs["dim"], len(x.shape))]
    return TensorType((), "int64", dim)


CONSTANT = define("constant", shape=constant, macs=NO_MACS)
IDENTITY = define("identity", shape=same_as_input, macs=NO_MACS)
DROPOUT = define("dropout", shape=same_as_input, macs=NO_MACS)
SIZE = define("size", shape=size, macs=NO_MACS)
