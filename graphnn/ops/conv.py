"""Shape rules for convolutions: ``conv{1,2,3}d``, ``conv_transpose{1,2,3}d`` and
``computed_conv{1,2,3}d`` / ``computed_conv_transpose{1,2,3}d`` (a conv whose weight, and bias,
are tensors computed in forward: inputs 1 and 2 instead of params; timm's weight-standardised
StdConv2d / ScaledStdConv2d, weight-normed or tied decoder kernels).

params: weight (conv: C_out x C_in/groups x k...; transposed: C_in x C_out/groups x k...),
optional bias. attrs: stride, pads (ONNX order: every spatial begin, then every end, so
``padding='same'`` with an even kernel can pad one more at the end, as torch does),
dilation, groups; transposed convs add output_padding.
"""
import math

from graphnn.ops.dims import dims_label, window_out
from graphnn.ops.opdef import define
from graphnn.ops.registry import ShapeMismatch, TensorType

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


def _conv_type(node, x, weight_shape):
    check_channels_first(x, len(weight_shape) - 2, weight_shape[1] * node.attrs["groups"])
    dims = window_dims(node, x, list(weight_shape[2:]))
    return TensorType((x.shape[0], weight_shape[0], *dims), x.dtype)


def conv(node, x):
    return _conv_type(node, x, tuple(node.params["weight"].shape))


def computed_conv(node, x, weight, bias=None):
    _check_static(weight)
    _check_bias(bias, weight.shape[0])
    return _conv_type(node, x, weight.shape)


def _check_static(weight):
    """A computed weight's shape must be known at export (ONNX's kernel_shape is an attribute)."""
    if not all(isinstance(d, int) for d in weight.shape):
        raise ShapeMismatch(f"expects a weight of static shape, gets {weight.shape}")


def _check_bias(bias, out_channels):
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ShapeMismatch(f"expects a bias of shape ({out_channels},), gets {tuple(bias.shape)}")


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


def _conv_transpose_type(node, x, weight_shape):
    check_channels_first(x, len(weight_shape) - 2, weight_shape[0])
    dims = [transposed_out(node, x.shape[2 + i], i, k) for i, k in enumerate(weight_shape[2:])]
    return TensorType((x.shape[0], weight_shape[1] * node.attrs["groups"], *dims), x.dtype)


def conv_transpose(node, x):
    return _conv_transpose_type(node, x, tuple(node.params["weight"].shape))


def computed_conv_transpose(node, x, weight, bias=None):
    _check_static(weight)
    _check_bias(bias, weight.shape[1] * node.attrs["groups"])
    return _conv_transpose_type(node, x, weight.shape)


def conv_macs(ins, outs, params):
    weight = params["weight"]  # [out, in / groups, *kernel]
    return math.prod(outs[0]) * weight[1] * math.prod(weight[2:])


def computed_conv_macs(ins, outs, params):
    return conv_macs(ins, outs, {"weight": ins[1]})


def conv_transpose_macs(ins, outs, params):
    weight = params["weight"]  # [in, out / groups, *kernel]: every input element meets a kernel
    return math.prod(ins[0]) * weight[1] * math.prod(weight[2:])


def computed_conv_transpose_macs(ins, outs, params):
    return conv_transpose_macs(ins, outs, {"weight": ins[1]})


def conv_label(attrs, weights):
    weight = weights.get("weight", ())
    kernel = weight[2:] if weight else attrs.get("kernel", ())
    out = {"kernel": dims_label(kernel), "stride": dims_label(attrs.get("stride", ()))}
    if any(d != 1 for d in attrs.get("dilation", ())):
        out["dilation"] = dims_label(attrs["dilation"])
    if attrs.get("groups", 1) != 1:
        out["groups"] = attrs["groups"]
    return out


CONV1D = define("conv1d", shape=conv, macs=conv_macs, label=conv_label)
CONV2D = define("conv2d", shape=conv, macs=conv_macs, label=conv_label)
CONV3D = define("conv3d", shape=conv, macs=conv_macs, label=conv_label)
CONV_TRANSPOSE1D = define("conv_transpose1d", shape=conv_transpose, macs=conv_transpose_macs, label=conv_label)
CONV_TRANSPOSE2D = define("conv_transpose2d", shape=conv_transpose, macs=conv_transpose_macs, label=conv_label)
CONV_TRANSPOSE3D = define("conv_transpose3d", shape=conv_transpose, macs=conv_transpose_macs, label=conv_label)

COMPUTED_CONV1D = define("computed_conv1d", shape=computed_conv, macs=computed_conv_macs, label=conv_label)
COMPUTED_CONV2D = define("computed_conv2d", shape=computed_conv, macs=computed_conv_macs, label=conv_label)
COMPUTED_CONV3D = define("computed_conv3d", shape=computed_conv, macs=computed_conv_macs, label=conv_label)
COMPUTED_CONV_TRANSPOSE1D = define("computed_conv_transpose1d", shape=computed_conv_transpose,
                                   macs=computed_conv_transpose_macs, label=conv_label)
COMPUTED_CONV_TRANSPOSE2D = define("computed_conv_transpose2d", shape=computed_conv_transpose,
                                   macs=computed_conv_transpose_macs, label=conv_label)
COMPUTED_CONV_TRANSPOSE3D = define("computed_conv_transpose3d", shape=computed_conv_transpose,
                                   macs=computed_conv_transpose_macs, label=conv_label)

CONV = {1: CONV1D, 2: CONV2D, 3: CONV3D}
COMPUTED_CONV = {1: COMPUTED_CONV1D, 2: COMPUTED_CONV2D, 3: COMPUTED_CONV3D}
CONV_TRANSPOSE = {1: CONV_TRANSPOSE1D, 2: CONV_TRANSPOSE2D, 3: CONV_TRANSPOSE3D}
COMPUTED_CONV_TRANSPOSE = {1: COMPUTED_CONV_TRANSPOSE1D, 2: COMPUTED_CONV_TRANSPOSE2D, 3: COMPUTED_CONV_TRANSPOSE3D}
