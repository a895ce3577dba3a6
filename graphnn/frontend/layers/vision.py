"""Rules for vision layers: resizing (nn.Upsample and its Nearest/Bilinear subclasses,
``F.interpolate`` and the deprecated ``F.upsample*``, which call it) as one ``resize``
op, and the channel/space rearrangements PixelShuffle, PixelUnshuffle, ChannelShuffle.

``resize`` attrs: mode ("nearest", "nearest-exact", "linear", "cubic"), align_corners,
and either sizes or scales (one per spatial dim, the other None): torch maps output to
input coordinates with the scale factor it was given, so a given scale stays a scale.
``antialias=True`` (bilinear and bicubic only, as in torch) adds the attr ``antialias``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.pool import adaptive_pool, per_dim
from graphnn.frontend.rules import Ref, function_rule, module_rule
from graphnn.ops.vision import CHANNEL_SHUFFLE, PIXEL_SHUFFLE, PIXEL_UNSHUFFLE, RESIZE

_MODES = {"nearest": "nearest", "nearest-exact": "nearest-exact", "linear": "linear",
          "bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}
_ANTIALIASED = {"bilinear", "bicubic"}  # the modes torch antialiases


@module_rule(nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
def upsample_layer(b, module, x):
    return interpolate(b, x, module.size, module.scale_factor, module.mode, module.align_corners,
                       module.recompute_scale_factor)


@function_rule(F.interpolate)
def interpolate(b, x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if antialias and mode not in _ANTIALIASED:
        raise b.unsupported(f"interpolate mode {mode!r} with antialias=True")
    spatial = b.rank(x) - 2
    if size is not None:
        sizes, scales = [_static_size(b, d) for d in per_dim(size, spatial)], None
    else:
        sizes, scales = None, [float(s) for s in per_dim(scale_factor, spatial)]
    if scales is not None and (recompute_scale_factor or mode == "area"):
        sizes, scales = _scaled_sizes(b, x, scales), None
    if mode == "area":  # torch computes it as adaptive average pooling
        return adaptive_pool(b, x, sizes, kind="avg", spatial=spatial)
    if mode not in _MODES:
        raise b.unsupported(f"interpolate mode {mode!r}")
    extra = {"antialias": True} if antialias else {}  # absent otherwise: the files stay as they were
    return b.emit(RESIZE, [x], mode=_MODES[mode], align_corners=bool(align_corners),
                  sizes=sizes, scales=scales, **extra)


def _static_size(b, size) -> int:
    """An int, or a traced size whose value is known (``size=y.shape[-2:]``)."""
    known = b.value(size).known if isinstance(size, Ref) else size
    if not isinstance(known, int):
        raise b.unsupported("interpolate to a size only known at run time")
    return known


def _scaled_sizes(b, x, scales) -> list:
    """floor(size * scale), torch's output size for a scale factor."""
    sizes = b.shape(x)[2:]
    if not all(isinstance(d, int) for d in sizes):
        raise b.unsupported("a recomputed scale factor on a dynamic spatial size")
    return [math.floor(d * s) for d, s in zip(sizes, scales)]


@module_rule(nn.PixelShuffle)
def pixel_shuffle_layer(b, module, x):
    return pixel_shuffle(b, x, module.upscale_factor)


@function_rule(F.pixel_shuffle)
def pixel_shuffle(b, x, upscale_factor):
    return b.emit(PIXEL_SHUFFLE, [x], factor=upscale_factor)


@module_rule(nn.PixelUnshuffle)
def pixel_unshuffle_layer(b, module, x):
    return pixel_unshuffle(b, x, module.downscale_factor)


@function_rule(F.pixel_unshuffle)
def pixel_unshuffle(b, x, downscale_factor):
    return b.emit(PIXEL_UNSHUFFLE, [x], factor=downscale_factor)


@module_rule(nn.ChannelShuffle)
def channel_shuffle_layer(b, module, x):
    return channel_shuffle(b, x, module.groups)


@function_rule(F.channel_shuffle, torch.channel_shuffle, F.native_channel_shuffle)
def channel_shuffle(b, x, groups):
    return b.emit(CHANNEL_SHUFFLE, [x], groups=groups)
