"""Shape rules for normalisation: eval-mode ``batch_norm`` and its folded form
``scale_shift`` (per-channel y = x * scale + shift on dim 1)."""
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule


@shape_rule("batch_norm", "scale_shift")
def per_channel(node, x):
    key = "running_mean" if node.op == "batch_norm" else "scale"
    channels = node.params[key].shape[0]
    if len(x.shape) < 2:
        raise ShapeMismatch(f"expects an input (N, {channels}, ...), gets {len(x.shape)}-d")
    if x.shape[1] != channels:
        raise ShapeMismatch(f"expects {channels} channels, gets {x.shape[1]}")
    return TensorType(x.shape, x.dtype)
