"""Shape rule of ``index_tensors``: x indexed at dims ``dim``.. by several int64 tensors;
their broadcast shape replaces the indexed dims (torch's rule for adjacent indices)."""
from graphnn.ops.dims import broadcast
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def index_tensors(node, x, *indices):
    dim = node.attrs["dim"]
    if dim + len(indices) > len(x.shape):
        raise ShapeMismatch(f"has {dim + len(indices)} indices for a {len(x.shape)}-d tensor")
    shape = ()
    for index in indices:
        if index.dtype != "int64":
            raise ShapeMismatch(f"expects int64 indices, gets {index.dtype} (graphnn should have cast them)")
        shape = broadcast(shape, index.shape)
    return TensorType(x.shape[:dim] + shape + x.shape[dim + len(indices):], x.dtype)


INDEX_TENSORS = define("index_tensors", shape=index_tensors, macs=NO_MACS)
