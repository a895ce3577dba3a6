"""Shape rules for ``unfold`` (nn.Unfold / F.unfold, im2col) and ``fold`` (nn.Fold / F.fold,
col2im) on (N, C, H, W) inputs.

attrs: kernel, dilation, pads (ONNX's [begin..., end...]), stride, and for fold output_size.
unfold: (N, C, H, W) -> (N, C*kh*kw, L), L the number of windows. fold: (N, C*kh*kw, L) ->
(N, C, *output_size), summing the overlapping windows back.
"""
import math

from graphnn.ops.conv import check_channels_first, window_dims
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def unfold(node, x):
    check_channels_first(x, 2, None)
    kernel = node.attrs["kernel"]
    channels = x.shape[1]
    if not isinstance(channels, int):
        raise ShapeMismatch("unfolds a dynamic number of channels")
    windows = window_dims(node, x, kernel)
    count = math.prod(windows) if all(isinstance(d, int) for d in windows) else f"{node.name}_d2"
    return TensorType((x.shape[0], channels * math.prod(kernel), count), x.dtype)


def fold(node, x):
    a = node.attrs
    if len(x.shape) != 3:
        raise ShapeMismatch(f"expects a 3-d input (N, C*kh*kw, L), gets {len(x.shape)}-d")
    block = math.prod(a["kernel"])
    if not isinstance(x.shape[1], int) or x.shape[1] % block:
        raise ShapeMismatch(f"expects dim 1 divisible by the kernel's {block} elements, gets {x.shape[1]}")
    windows = fold_windows(a)
    if isinstance(x.shape[2], int) and x.shape[2] != math.prod(windows):
        raise ShapeMismatch(f"expects {math.prod(windows)} windows for output size {a['output_size']}, "
                            f"gets {x.shape[2]}")
    return TensorType((x.shape[0], x.shape[1] // block, *a["output_size"]), x.dtype)


def fold_windows(attrs) -> list:
    """How many windows fit along each dim of fold's output (as for unfold of that size)."""
    spatial = len(attrs["kernel"])
    return [(size + attrs["pads"][i] + attrs["pads"][i + spatial] - d * (k - 1) - 1) // s + 1
            for i, (size, k, d, s) in enumerate(zip(attrs["output_size"], attrs["kernel"], attrs["dilation"],
                                                    attrs["stride"]))]


UNFOLD = define("unfold", shape=unfold, macs=NO_MACS)
FOLD = define("fold", shape=fold, macs=NO_MACS)
