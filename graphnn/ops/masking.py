"""Shape rule of ``trilu``: the lower (``upper=False``) or upper triangle of the last two
dims, relative to ``diagonal``; same shape and dtype as the input."""
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def trilu(node, x):
    if len(x.shape) < 2:
        raise ShapeMismatch(f"expects a matrix or a batch of them, gets a {len(x.shape)}-d tensor")
    return TensorType(x.shape, x.dtype)


TRILU = define("trilu", shape=trilu, macs=NO_MACS)
