"""Shape rules for losses: a scalar unless ``reduction`` is 'none'; then elementwise
losses keep the broadcast shape of input and target (and weights), class losses one
value per sample (the input's shape without its class dim: dim 1, or dim 0 when the
input is one unbatched score vector)."""
from graphnn.ops.dims import broadcast, fmt
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType
from graphnn.tensors import is_float


def _reduced(node, shape, dtype):
    return TensorType(tuple(shape) if node.attrs["reduction"] == "none" else (), dtype)


def _check_float(input):
    if not is_float(input.dtype):
        raise ShapeMismatch(f"expects a floating-point input, gets {input.dtype}")


def elementwise_loss(node, input, target):
    _check_float(input)
    shape = broadcast(input.shape, target.shape)
    for key in ("weight", "pos_weight"):
        if key in node.params:
            shape = broadcast(shape, tuple(node.params[key].shape))
    return _reduced(node, shape, input.dtype)


def class_dim(shape) -> int:
    """Scores per class are dim 1 of a batch, dim 0 of a single unbatched sample."""
    return 1 if len(shape) >= 2 else 0


def class_loss(node, input, target):
    _check_float(input)
    if not input.shape:
        raise ShapeMismatch("expects an input of scores per class, gets a scalar")
    dim = class_dim(input.shape)
    classes = input.shape[dim]
    weight = node.params.get("weight")
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ShapeMismatch(f"expects a weight for each of the {classes} classes, gets {fmt(tuple(weight.shape))}")
    per_sample = input.shape[:dim] + input.shape[dim + 1:]
    if node.attrs.get("probabilities"):
        if target.shape != input.shape or target.dtype != input.dtype:
            raise ShapeMismatch(f"expects class probabilities shaped like the input {fmt(input.shape)} "
                                f"({input.dtype}), gets {fmt(target.shape)} ({target.dtype})")
    else:
        if target.dtype != "int64":
            raise ShapeMismatch(f"expects int64 class indices as target, gets {target.dtype}")
        if target.shape != per_sample:
            raise ShapeMismatch(f"expects a target of one class index per sample {fmt(per_sample)}, "
                                f"gets {fmt(target.shape)}{_dynamic_hint(per_sample, target.shape)}")
    return _reduced(node, per_sample, input.dtype)


def _dynamic_hint(want, got):
    """When only the input's dims are dynamic (a 1-d target is not batched by default)."""
    if len(want) != len(got) or not any(isinstance(w, str) and isinstance(g, int) for w, g in zip(want, got)):
        return ""
    dims = ", ".join(f"{i}: {w!r}" for i, w in enumerate(want) if isinstance(w, str))
    return f" (declare the target's dims dynamic too: dynamic_dims=[..., {{{dims}}}])"


MSE_LOSS = define("mse_loss", shape=elementwise_loss, macs=NO_MACS)
L1_LOSS = define("l1_loss", shape=elementwise_loss, macs=NO_MACS)
SMOOTH_L1_LOSS = define("smooth_l1_loss", shape=elementwise_loss, macs=NO_MACS)
HUBER_LOSS = define("huber_loss", shape=elementwise_loss, macs=NO_MACS)
BINARY_CROSS_ENTROPY = define("binary_cross_entropy", shape=elementwise_loss, macs=NO_MACS)
BINARY_CROSS_ENTROPY_WITH_LOGITS = define("binary_cross_entropy_with_logits", shape=elementwise_loss, macs=NO_MACS)
KL_DIV = define("kl_div", shape=elementwise_loss, macs=NO_MACS)
CROSS_ENTROPY = define("cross_entropy", shape=class_loss, macs=NO_MACS)
NLL_LOSS = define("nll_loss", shape=class_loss, macs=NO_MACS)
