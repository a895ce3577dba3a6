"""Shape rules for activations: elementwise ones keep the input's shape and dtype;
prelu checks its slope count, the softmax family its dim, glu halves its dim."""
from graphnn.ops.dims import normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def elementwise(node, x):
    return TensorType(x.shape, x.dtype)


def prelu(node, x):
    """torch: one slope, or one per channel on dim 1 (a <2-d input has one channel)."""
    slopes = node.params["weight"].numel()
    channels = x.shape[1] if len(x.shape) >= 2 else 1
    if slopes != 1 and isinstance(channels, int) and slopes != channels:
        raise ShapeMismatch(f"expects 1 or {channels} slopes (one per channel on dim 1), gets {slopes}")
    return TensorType(x.shape, x.dtype)


def softmax(node, x):
    """attrs.dtype is the result dtype (torch's ``dtype=`` argument casts the input first)."""
    normalize_axis(node.attrs["dim"], len(x.shape))
    return TensorType(x.shape, node.attrs["dtype"])


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


RELU = define("relu", shape=elementwise, macs=NO_MACS)
HARDTANH = define("hardtanh", shape=elementwise, macs=NO_MACS)
LEAKY_RELU = define("leaky_relu", shape=elementwise, macs=NO_MACS)
THRESHOLD = define("threshold", shape=elementwise, macs=NO_MACS)
HARDSHRINK = define("hardshrink", shape=elementwise, macs=NO_MACS)
SOFTSHRINK = define("softshrink", shape=elementwise, macs=NO_MACS)
ELU = define("elu", shape=elementwise, macs=NO_MACS)
SELU = define("selu", shape=elementwise, macs=NO_MACS)
CELU = define("celu", shape=elementwise, macs=NO_MACS)
GELU = define("gelu", shape=elementwise, macs=NO_MACS)
SIGMOID = define("sigmoid", shape=elementwise, macs=NO_MACS)
TANH = define("tanh", shape=elementwise, macs=NO_MACS)
SILU = define("silu", shape=elementwise, macs=NO_MACS)
MISH = define("mish", shape=elementwise, macs=NO_MACS)
SOFTPLUS = define("softplus", shape=elementwise, macs=NO_MACS)
SOFTSIGN = define("softsign", shape=elementwise, macs=NO_MACS)
HARDSIGMOID = define("hardsigmoid", shape=elementwise, macs=NO_MACS)
HARDSWISH = define("hardswish", shape=elementwise, macs=NO_MACS)
LOGSIGMOID = define("logsigmoid", shape=elementwise, macs=NO_MACS)
TANHSHRINK = define("tanhshrink", shape=elementwise, macs=NO_MACS)
PRELU = define("prelu", shape=prelu, macs=NO_MACS)
SOFTMAX = define("softmax", shape=softmax, macs=NO_MACS)
LOG_SOFTMAX = define("log_softmax", shape=softmax, macs=NO_MACS)
SOFTMIN = define("softmin", shape=softmax, macs=NO_MACS)
GLU = define("glu", shape=glu, macs=NO_MACS)
