"""Lowerings of ``unfold`` (im2col) and ``fold`` (col2im) as a grouped Conv / ConvTranspose
with one-hot kernels: output channel c*kh*kw + i*kw + j of the Conv copies input channel c
at window offset (i, j), torch's order, and the ConvTranspose adds each such column back
where it came from. Every product is with 1 or 0, so finite values are exact (an inf or NaN
in the input spreads to its neighbours' sums as 0 * inf = NaN, unlike torch's copy).
"""
import math

import numpy as np

from graphnn.backend.onnx.registry import lowers
from graphnn.ops.patches import FOLD, UNFOLD, fold_windows


def _one_hot_kernels(ctx, node, channels: int, dtype: str) -> str:
    kernel = node.attrs["kernel"]
    block = math.prod(kernel)
    weight = np.zeros((channels * block, 1, *kernel), dtype=dtype)
    for c in range(channels):
        for offset in range(block):
            weight[(c * block + offset, 0, *np.unravel_index(offset, kernel))] = 1
    return ctx.const(weight, dtype=dtype, hint="one_hot_kernels")


def _window_attrs(node, channels: int) -> dict:
    a = node.attrs
    return dict(kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=list(a["pads"]),
                dilations=list(a["dilation"]), group=channels)


@lowers(UNFOLD)
def unfold(ctx, node):
    x = ctx.graph.values[node.inputs[0]]
    channels = x.shape[1]
    conv = ctx.add1("Conv", [ctx.input(node), _one_hot_kernels(ctx, node, channels, x.dtype)],
                    **_window_attrs(node, channels))
    shape = ctx.const([0, channels * math.prod(node.attrs["kernel"]), -1], hint="shape")
    ctx.add1("Reshape", [conv, shape], ctx.output(node))


@lowers(FOLD)
def fold(ctx, node):
    a = node.attrs
    x = ctx.graph.values[node.inputs[0]]
    channels = x.shape[1] // math.prod(a["kernel"])
    windows = fold_windows(a)
    spatial = len(a["kernel"])
    smallest = [(n - 1) * s - a["pads"][i] - a["pads"][i + spatial] + d * (k - 1) + 1
                for i, (n, s, d, k) in enumerate(zip(windows, a["stride"], a["dilation"], a["kernel"]))]
    grid = ctx.add1("Reshape", [ctx.input(node), ctx.const([0, x.shape[1], *windows], hint="grid")])
    ctx.add1("ConvTranspose", [grid, _one_hot_kernels(ctx, node, channels, x.dtype)], ctx.output(node),
             **_window_attrs(node, channels),
             output_padding=[size - m for size, m in zip(a["output_size"], smallest)])
