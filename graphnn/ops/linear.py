"""Shape rules for dense layers: ``linear`` (y = x W^T + b) and ``matmul``."""
from graphnn.ops.dims import broadcast, fmt
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule


@shape_rule("linear")
def linear(node, x):
    out_features, in_features = node.params["weight"].shape
    if not x.shape:
        raise ShapeMismatch(f"expects an input with {in_features} features, gets a scalar")
    if x.shape[-1] != in_features:
        raise ShapeMismatch(f"expects {in_features} input features, gets {x.shape[-1]}")
    return TensorType(x.shape[:-1] + (out_features,), x.dtype)


@shape_rule("matmul")
def matmul(node, a, b):
    if not a.shape or not b.shape:
        raise ShapeMismatch("expects tensors of rank >= 1, gets a scalar")
    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    if a_shape[-1] != b_shape[-2]:
        raise ShapeMismatch(
            f"multiplies {fmt(a.shape)} by {fmt(b.shape)}: inner dims {a_shape[-1]} and {b_shape[-2]} differ"
        )
    batch = broadcast(a_shape[:-2], b_shape[:-2])
    out = batch + a_shape[-2:-1] + b_shape[-1:]
    if len(a.shape) == 1:
        out = out[:-2] + out[-1:]
    if len(b.shape) == 1:
        out = out[:-1]
    if a.dtype != b.dtype:
        raise ShapeMismatch(f"multiplies {a.dtype} by {b.dtype}")
    return TensorType(out, a.dtype)
