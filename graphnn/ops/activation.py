"""Shape rules for activations: elementwise ones keep the input's shape and dtype;
prelu checks its slope count, the softmax family its dim, glu halves its dim."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule

ELEMENTWISE_ACTIVATIONS = (
    "relu", "hardtanh", "leaky_relu", "threshold", "hardshrink", "softshrink",
    "elu", "selu", "celu", "gelu", "sigmoid", "tanh", "silu", "mish", "softplus", "softsign",
    "hardsigmoid", "hardswish", "logsigmoid", "tanhshrink",
)


@shape_rule(*ELEMENTWISE_ACTIVATIONS)
def elementwise(node, x):
    return TensorType(x.shape, x.dtype)


@shape_rule("prelu")
def prelu(node, x):
    """torch: one slope, or one per channel on dim 1 (a <2-d input has one channel)."""
    slopes = node.params["weight"].numel()
    channels = x.shape[1] if len(x.shape) >= 2 else 1
    if slopes != 1 and isinstance(channels, int) and slopes != channels:
        raise ShapeMismatch(f"expects 1 or {channels} slopes (one per channel on dim 1), gets {slopes}")
    return TensorType(x.shape, x.dtype)


@shape_rule("softmax", "log_softmax", "softmin")
def softmax(node, x):
    """attrs.dtype is the result dtype (torch's ``dtype=`` argument casts the input first)."""
    normalize_axis(node.attrs["dim"], len(x.shape))
    return TensorType(x.shape, node.attrs["dtype"])


@shape_rule("glu")
def glu(node, x):
    if not x.shape:
        raise ShapeMismatch("expects at least a 1-d input to split in halves, gets a scalar")
    dim = normalize_axis(node.attrs["dim"], len(x.shape))
    size = x.shape[dim]
    if not isinstance(size, int):
        raise ShapeMismatch(f"expects a fixed size on dim {dim} to split in halves, gets the dynamic {size}")
    if size % 2:
        raise ShapeMismatch(f"expects an even size on dim {dim} to split in halves, gets {size}")
    return TensorType(x.shape[:dim] + (size // 2,) + x.shape[dim + 1:], x.dtype)
