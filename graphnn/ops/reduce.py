"""Shape rules for reductions: attrs ``dims`` (the reduced dims) and ``keepdim``;
argmax / argmin and the two-output ``max_dim`` / ``min_dim`` (values, int64 indices)
take one ``dim``."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType
from graphnn.tensors import is_float


def reduced_shape(x, dims, keepdim) -> tuple:
    dims = {normalize_axis(d, len(x.shape)) for d in dims}
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(x.shape))
    return tuple(d for i, d in enumerate(x.shape) if i not in dims)


def reduction(node, x):
    return TensorType(reduced_shape(x, node.attrs["dims"], node.attrs["keepdim"]), x.dtype)


def float_reduction(node, x):
    if not is_float(x.dtype):
        raise ShapeMismatch(f"expects a floating-point input, gets {x.dtype}")
    return reduction(node, x)


def arg_reduction(node, x):
    return TensorType(reduced_shape(x, [node.attrs["dim"]], node.attrs["keepdim"]), "int64")


def extreme_with_index(node, x):
    shape = reduced_shape(x, [node.attrs["dim"]], node.attrs["keepdim"])
    return [TensorType(shape, x.dtype), TensorType(shape, "int64")]


SUM = define("sum", shape=reduction, macs=NO_MACS)
PROD = define("prod", shape=reduction, macs=NO_MACS)
AMAX = define("amax", shape=reduction, macs=NO_MACS)
AMIN = define("amin", shape=reduction, macs=NO_MACS)
MEAN = define("mean", shape=float_reduction, macs=NO_MACS)
VAR = define("var", shape=float_reduction, macs=NO_MACS)
STD = define("std", shape=float_reduction, macs=NO_MACS)
NORM = define("norm", shape=float_reduction, macs=NO_MACS)
LOGSUMEXP = define("logsumexp", shape=float_reduction, macs=NO_MACS)
ARGMAX = define("argmax", shape=arg_reduction, macs=NO_MACS)
ARGMIN = define("argmin", shape=arg_reduction, macs=NO_MACS)
MAX_DIM = define("max_dim", shape=extreme_with_index, macs=NO_MACS)
MIN_DIM = define("min_dim", shape=extreme_with_index, macs=NO_MACS)
