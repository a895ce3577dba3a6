"""Shape rules of ``index_tensors``: x indexed at dims ``dim``.. by several int64 tensors;
their broadcast shape replaces the indexed dims (torch's rule for adjacent indices); and of
``index_put``: x with the elements at its leading dims' index tuples replaced by values."""
from graphnn.ops.dims import broadcast
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def _index_shape(x, indices, dim: int) -> tuple:
    """The int64 indices' broadcast shape (what replaces the indexed dims ``dim``..)."""
    if dim + len(indices) > len(x.shape):
        raise ShapeMismatch(f"has {dim + len(indices)} indices for a {len(x.shape)}-d tensor")
    shape = ()
    for index in indices:
        if index.dtype != "int64":
            raise ShapeMismatch(f"expects int64 indices, gets {index.dtype} (graphnn should have cast them)")
        shape = broadcast(shape, index.shape)
    return shape


def index_tensors(node, x, *indices):
    dim = node.attrs["dim"]
    shape = _index_shape(x, indices, dim)
    return TensorType(x.shape[:dim] + shape + x.shape[dim + len(indices):], x.dtype)


def index_put(node, x, values, *indices):
    """Inputs: x, the values (x's dtype, broadcasting to the indexed part), the int64 indices."""
    shape = _index_shape(x, indices, 0)
    if values.dtype != x.dtype:
        raise ShapeMismatch(f"expects values of dtype {x.dtype}, gets {values.dtype} (graphnn should have cast them)")
    broadcast(shape + x.shape[len(indices):], values.shape)
    return TensorType(x.shape, x.dtype)


INDEX_TENSORS = define("index_tensors", shape=index_tensors, macs=NO_MACS)
INDEX_PUT = define("index_put", shape=index_put, macs=NO_MACS)
