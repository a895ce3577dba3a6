"""Lowering of pooling to ONNX MaxPool, AveragePool, LpPool and the global pools, and of
adaptive pooling whose windows do not tile the input (see ``adaptive_avg_pool``).

ceil_mode: onnxruntime computes torch's values, but before opset 22 ONNX's shape
inference keeps a last window that starts in the end padding, which torch drops, so
the checker would see one more output than torch. In that case torch's last window
ends inside the input and padding (ceil only added the dropped one), so the floor
rule gives exactly torch's windows: those pools are written without ceil_mode. (A
pool needing ceil along some dims and dropping a window along others needs opset 22.)
"""
import math

import numpy as np

from graphnn.backend.onnx.lowering.reduce import reduce
from graphnn.backend.onnx.registry import lowers
from graphnn.errors import UnsupportedError
from graphnn.ops.pool import (ADAPTIVE_AVG_POOL, ADAPTIVE_MAX_POOL, AVG_POOL1D, AVG_POOL2D, AVG_POOL3D, GLOBAL_AVG_POOL,
                              GLOBAL_MAX_POOL, LP_POOL1D, LP_POOL2D, LP_POOL3D, MAX_POOL1D, MAX_POOL2D, MAX_POOL3D)

CEIL_SHAPES_AGREE = 22  # the first opset whose pool shape inference follows torch's ceil rule


def _ceil_mode(ctx, node, dilation: list) -> int:
    """ONNX ceil_mode giving torch's output size (see the module docstring)."""
    a = node.attrs
    sizes = ctx.graph.values[node.inputs[0]].shape[2:]
    outs = list(ctx.graph.values[node.outputs[0]].shape[2:])
    if not a["ceil_mode"] or ctx.opset >= CEIL_SHAPES_AGREE or not all(isinstance(d, int) for d in sizes):
        return int(a["ceil_mode"])
    n, pads = len(sizes), a["pads"]
    rooms = [size + pads[i] + pads[n + i] - d * (k - 1) - 1
             for i, (size, k, d) in enumerate(zip(sizes, a["kernel"], dilation))]
    if [-(-room // s) + 1 for room, s in zip(rooms, a["stride"])] == outs:
        return 1
    if [room // s + 1 for room, s in zip(rooms, a["stride"])] == outs:
        return 0
    raise UnsupportedError(
        f"{node.where}: ceil_mode with a last window in the padding along some dims only needs "
        f"ONNX opset {CEIL_SHAPES_AGREE} or newer (asked for {ctx.opset})"
    )


def _common(ctx, node, dilation: list) -> dict:
    a = node.attrs
    return dict(kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=list(a["pads"]),
                ceil_mode=_ceil_mode(ctx, node, dilation))


@lowers(MAX_POOL1D, MAX_POOL2D, MAX_POOL3D)
def max_pool(ctx, node):
    dilation = list(node.attrs["dilation"])
    ctx.add1("MaxPool", ctx.inputs(node), ctx.output(node), **_common(ctx, node, dilation),
             dilations=dilation)


def _average_pool(ctx, node, x, output, count_pad: bool) -> str:
    return ctx.add1("AveragePool", [x], output, **_common(ctx, node, [1] * len(node.attrs["kernel"])),
                    count_include_pad=int(count_pad))


@lowers(AVG_POOL1D, AVG_POOL2D, AVG_POOL3D)
def avg_pool(ctx, node):
    _average_pool(ctx, node, ctx.input(node), ctx.output(node), node.attrs["count_include_pad"])


@lowers(LP_POOL1D, LP_POOL2D, LP_POOL3D)
def lp_pool(ctx, node):
    """LpPool sums |x|^p; torch sums x^p (signed for odd p) and, with ceil_mode, scales
    partial windows up to the full kernel. Other cases spell torch's formula out:
    (kernel elements * avg_pool(x^p)) ^ (1/p)."""
    a = node.attrs
    p = a["p"]
    if p.is_integer() and p % 2 == 0 and not a["ceil_mode"]:
        ctx.add1("LpPool", ctx.inputs(node), ctx.output(node), kernel_shape=list(a["kernel"]),
                 strides=list(a["stride"]), p=int(p))
        return
    dtype = ctx.graph.values[node.inputs[0]].dtype
    powered = ctx.add1("Pow", [ctx.input(node), ctx.const(p, dtype=dtype, hint="p")])
    mean = _average_pool(ctx, node, powered, None, count_pad=True)
    total = ctx.add1("Mul", [mean, ctx.const(math.prod(a["kernel"]), dtype=dtype, hint="count")])
    ctx.add1("Pow", [total, ctx.const(1.0 / p, dtype=dtype, hint="root")], ctx.output(node))


@lowers(GLOBAL_AVG_POOL)
def global_avg_pool(ctx, node):
    ctx.add1("GlobalAveragePool", ctx.inputs(node), ctx.output(node))


@lowers(GLOBAL_MAX_POOL)
def global_max_pool(ctx, node):
    ctx.add1("GlobalMaxPool", ctx.inputs(node), ctx.output(node))


# ----------------------------------------------------------------- adaptive pooling
# torch's window i of n over a dim of size L is [floor(i*L/n), ceil((i+1)*L/n)): windows
# may overlap and differ in length, so no single strided ONNX pool computes them. Both
# reductions are separable, so each pooled dim is reduced on its own. Per dim, the
# composition onnxruntime 1.31 ran fastest on CPU among those measured:
# - average along the last two dims: one MatMul with a constant (L, n) window-mean matrix
#   whose column i holds 1/len_i over window i (3-8x faster than slices), last dim first;
# - average along depth, and max along any dim: a Slice + Reduce* per window, then Concat
#   (a Gather of a window table + ReduceMax was 1.3-6x slower, transposing for a MatMul
#   too); max goes first dim first, so the strided slices of the last dim come when the
#   tensor is smallest.
# A dim pooled to 1 (possibly dynamic) is one Reduce*; a kept dim (None) is untouched.


def adaptive_windows(size: int, out: int) -> list[range]:
    return [range(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _pooled_dims(ctx, node, last_first: bool):
    """(axis, input size, output size) of each dim the pool changes."""
    sizes = ctx.graph.values[node.inputs[0]].shape[2:]
    dims = [(2 + i, size, out) for i, (size, out) in enumerate(zip(sizes, node.attrs["output_size"]))
            if out is not None and out != size]
    return dims[::-1] if last_first else dims


def _sliced_windows(ctx, x, reduce_op: str, axis: int, size: int, out: int, output):
    """Each window sliced out along ``axis`` and reduced, the results concatenated."""
    parts = []
    for window in adaptive_windows(size, out):
        piece = ctx.add1("Slice", [x, ctx.const([window.start], hint="start"),
                                   ctx.const([window.stop], hint="stop"), ctx.const([axis], hint="axis")])
        parts.append(reduce(ctx, reduce_op, piece, [axis], True))
    return ctx.add1("Concat", parts, output, axis=axis)


def _mean_matmul(ctx, x, axis: int, rank: int, size: int, out: int, dtype: str, output):
    """Window means along one of the last two dims as a MatMul with the window-mean matrix."""
    matrix = np.zeros((size, out), dtype=dtype)
    for i, window in enumerate(adaptive_windows(size, out)):
        matrix[window.start:window.stop, i] = 1.0 / len(window)
    if axis == rank - 1:
        return ctx.add1("MatMul", [x, ctx.const(matrix, dtype, "window_means")], output)
    return ctx.add1("MatMul", [ctx.const(matrix.T, dtype, "window_means"), x], output)


def _avg_windows(ctx, x, axis: int, rank: int, size: int, out: int, dtype: str, output):
    if axis >= rank - 2:
        return _mean_matmul(ctx, x, axis, rank, size, out, dtype, output)
    return _sliced_windows(ctx, x, "ReduceMean", axis, size, out, output)


def _max_windows(ctx, x, axis: int, rank: int, size: int, out: int, dtype: str, output):
    return _sliced_windows(ctx, x, "ReduceMax", axis, size, out, output)


# op -> (per-dim windows, reduction to one element, whether the last dim goes first)
_WINDOWS = {ADAPTIVE_AVG_POOL.name: (_avg_windows, "ReduceMean", True),
            ADAPTIVE_MAX_POOL.name: (_max_windows, "ReduceMax", False)}


@lowers(ADAPTIVE_AVG_POOL, ADAPTIVE_MAX_POOL)
def adaptive_pool(ctx, node):
    windows, reduce_op, last_first = _WINDOWS[node.op]
    value = ctx.graph.values[node.inputs[0]]
    rank, x = len(value.shape), ctx.input(node)
    pooled = _pooled_dims(ctx, node, last_first)
    for n, (axis, size, out) in enumerate(pooled):
        output = ctx.output(node) if n == len(pooled) - 1 else None
        if out == 1:
            x = reduce(ctx, reduce_op, x, [axis], True, output)
        else:
            x = windows(ctx, x, axis, rank, size, out, value.dtype, output)
    if not pooled:
        ctx.add1("Identity", [x], ctx.output(node))
