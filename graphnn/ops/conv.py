"""Shape rules for convolutions: ``conv1d``/``conv2d``/``conv3d``.

attrs: stride, padding (per-dim ints, both sides), dilation, groups.
"""
from graphnn.ops.dims import window_out
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def check_channels_first(x, spatial: int, channels: int, what: str = "input channels"):
    """Conv-style inputs: rank 2+spatial, channel dim 1 equal to ``channels``."""
    if len(x.shape) != spatial + 2:
        raise ShapeMismatch(
            f"expects a {spatial + 2}-d input {_LAYOUT.get(spatial, '')}, gets {len(x.shape)}-d"
        )
    if channels is not None and x.shape[1] != channels:
        raise ShapeMismatch(f"expects {channels} {what}, gets {x.shape[1]}")


@shape_rule("conv1d", "conv2d", "conv3d")
def conv(node, x):
    weight = node.params["weight"]
    spatial = weight.dim() - 2
    a = node.attrs
    check_channels_first(x, spatial, weight.shape[1] * a["groups"])
    dims = [
        window_out(x.shape[2 + i], weight.shape[2 + i], a["stride"][i], 2 * a["padding"][i],
                   a["dilation"][i], fresh=f"{node.name}_d{2 + i}")
        for i in range(spatial)
    ]
    return TensorType((x.shape[0], weight.shape[0], *dims), x.dtype)
