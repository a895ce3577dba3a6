"""Shape rules for vision ops: ``resize``, ``pixel_shuffle``, ``pixel_unshuffle`` and
``channel_shuffle``.

resize attrs: mode, align_corners, sizes or scales (per spatial dim; the other None).
pixel_(un)shuffle attrs: factor. channel_shuffle attrs: groups.
"""
import math

from graphnn.ops.conv import check_channels_first
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def resize(node, x):
    a = node.attrs
    spatial = len(a["sizes"] if a["sizes"] is not None else a["scales"])
    check_channels_first(x, spatial, None)
    if a["sizes"] is not None:
        dims = list(a["sizes"])
    else:
        dims = [math.floor(d * s) if isinstance(d, int) else f"{node.name}_d{2 + i}"
                for i, (d, s) in enumerate(zip(x.shape[2:], a["scales"]))]
    if any(isinstance(d, int) and d <= 0 for d in dims):
        raise ShapeMismatch(f"resizes {x.shape[2:]} to an empty size {dims}")
    return TensorType(x.shape[:2] + tuple(dims), x.dtype)


def _divide(node, x, i: int, by: int, what: str):
    """Dim ``i`` of ``x`` divided by ``by``, which must divide it (symbolic: a fresh symbol)."""
    d = x.shape[i]
    if not isinstance(d, int):
        return f"{node.name}_d{i}"
    if d % by:
        raise ShapeMismatch(f"expects {what} divisible by {by}, gets {d}")
    return d // by


def _times(node, x, i: int, by: int):
    d = x.shape[i]
    return d * by if isinstance(d, int) else f"{node.name}_d{i}"


def pixel_shuffle(node, x):
    r = node.attrs["factor"]
    check_channels_first(x, 2, None)
    channels = _divide(node, x, 1, r * r, f"input channels (upscale_factor {r} squared)")
    return TensorType((x.shape[0], channels, _times(node, x, 2, r), _times(node, x, 3, r)), x.dtype)


def pixel_unshuffle(node, x):
    r = node.attrs["factor"]
    check_channels_first(x, 2, None)
    dims = (_times(node, x, 1, r * r), _divide(node, x, 2, r, "height"), _divide(node, x, 3, r, "width"))
    return TensorType((x.shape[0], *dims), x.dtype)


def channel_shuffle(node, x):
    groups = node.attrs["groups"]
    if len(x.shape) < 3:
        raise ShapeMismatch(f"expects an input (N, C, *) of 3 or more dims, gets {len(x.shape)}-d")
    _divide(node, x, 1, groups, f"input channels (groups={groups})")
    return TensorType(x.shape, x.dtype)


RESIZE = define("resize", shape=resize, macs=NO_MACS)
PIXEL_SHUFFLE = define("pixel_shuffle", shape=pixel_shuffle, macs=NO_MACS)
PIXEL_UNSHUFFLE = define("pixel_unshuffle", shape=pixel_unshuffle, macs=NO_MACS)
CHANNEL_SHUFFLE = define("channel_shuffle", shape=channel_shuffle, macs=NO_MACS)
