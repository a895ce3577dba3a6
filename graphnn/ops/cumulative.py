"""Shape rule of ``cumsum``: the running sum along ``dim`` keeps shape and dtype."""
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def cumsum(node, x):
    if x.dtype == "bool":
        raise ShapeMismatch("expects a number tensor, gets bool (graphnn should have cast it)")
    return TensorType(x.shape, x.dtype)


CUMSUM = define("cumsum", shape=cumsum, macs=NO_MACS)
