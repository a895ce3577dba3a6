"""Shape rules for reductions: attrs ``dims`` (the reduced dims) and ``keepdim``;
argmax / argmin and the two-output ``max_dim`` / ``min_dim`` (values, int64 indices)
take one ``dim``."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule
from graphnn.tensors import is_float

REDUCTIONS = ("sum", "prod", "amax", "amin")
FLOAT_REDUCTIONS = ("mean", "var", "std", "norm", "logsumexp")


def reduced_shape(x, dims, keepdim) -> tuple:
    dims = {normalize_axis(d, len(x.shape)) for d in dims}
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(x.shape))
    return tuple(d for i, d in enumerate(x.shape) if i not in dims)


@shape_rule(*REDUCTIONS)
def reduction(node, x):
    return TensorType(reduced_shape(x, node.attrs["dims"], node.attrs["keepdim"]), x.dtype)


@shape_rule(*FLOAT_REDUCTIONS)
def float_reduction(node, x):
    if not is_float(x.dtype):
        raise ShapeMismatch(f"expects a floating-point input, gets {x.dtype}")
    return reduction(node, x)


@shape_rule("argmax", "argmin")
def arg_reduction(node, x):
    return TensorType(reduced_shape(x, [node.attrs["dim"]], node.attrs["keepdim"]), "int64")


@shape_rule("max_dim", "min_dim")
def extreme_with_index(node, x):
    shape = reduced_shape(x, [node.attrs["dim"]], node.attrs["keepdim"])
    return [TensorType(shape, x.dtype), TensorType(shape, "int64")]
