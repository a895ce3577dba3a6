"""Shape rules for convolutions: ``conv{1,2,3}d`` and ``conv_transpose{1,2,3}d``.

params: weight (conv: C_out x C_in/groups x k...; transposed: C_in x C_out/groups x k...),
optional bias. attrs: stride, pads (ONNX order: every spatial begin, then every end, so
``padding='same'`` with an even kernel can pad one more at the end, as torch does),
dilation, groups; transposed convs add output_padding.
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


def window_dims(node, x, kernel) -> list:
    """Spatial output sizes of a window op (conv or pool) from its stride/pads/dilation."""
    a = node.attrs
    spatial = len(kernel)
    dilation = a.get("dilation", [1] * spatial)
    return [
        window_out(x.shape[2 + i], kernel[i], a["stride"][i], a["pads"][i] + a["pads"][spatial + i],
                   dilation[i], a.get("ceil_mode", False), fresh=f"{node.name}_d{2 + i}")
        for i in range(spatial)
    ]


@shape_rule("conv1d", "conv2d", "conv3d")
def conv(node, x):
    weight = node.params["weight"]
    check_channels_first(x, weight.dim() - 2, weight.shape[1] * node.attrs["groups"])
    dims = window_dims(node, x, list(weight.shape[2:]))
    return TensorType((x.shape[0], weight.shape[0], *dims), x.dtype)


def transposed_out(node, size, i: int, kernel: int):
    """torch's ConvTranspose length: (L-1)*stride - pads + dilation*(k-1) + output_padding + 1."""
    if not isinstance(size, int):
        return f"{node.name}_d{2 + i}"
    a = node.attrs
    spatial = len(a["stride"])
    out = ((size - 1) * a["stride"][i] - a["pads"][i] - a["pads"][spatial + i]
           + a["dilation"][i] * (kernel - 1) + a["output_padding"][i] + 1)
    if out <= 0:
        raise ShapeMismatch(f"has padding that leaves no output along dim {2 + i} (size {size})")
    return out


@shape_rule("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def conv_transpose(node, x):
    weight = node.params["weight"]
    check_channels_first(x, weight.dim() - 2, weight.shape[0])
    dims = [transposed_out(node, x.shape[2 + i], i, k) for i, k in enumerate(weight.shape[2:])]
    return TensorType((x.shape[0], weight.shape[1] * node.attrs["groups"], *dims), x.dtype)
