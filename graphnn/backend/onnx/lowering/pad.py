"""Lowering of ``pad`` to ONNX Pad.

Negative pads crop first with a Slice (torch crops, then pads what is left). ONNX Pad's
'wrap' mode (torch's circular) exists from opset 19; before that circular padding is
each padded dim's tail and head sliced off and concatenated around it.

A zero pad read by a pool is written with the value -0.0: onnxruntime's PadFusion folds a
Pad whose value is all zero bytes into the MaxPool / AveragePool after it, as the pool's own
padding, which a max pool ignores and a count_include_pad=False average does not count (torch
pools the zeros as data), and which onnxruntime refuses at load when it reaches the kernel size
(NASNet's ZeroPad2d before a 1x1 AvgPool2d). -0.0 equals 0 in every comparison and sum.
"""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.pad import PAD
from graphnn.ops.pool import AVG_POOL, MAX_POOL

_POOLS = {op.name for op in (*MAX_POOL.values(), *AVG_POOL.values())}

_ONNX_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
_END = 2**63 - 1  # Slice's "to the end"


def _crop(ctx, x, pads, output=None):
    """Slice away what negative pads remove."""
    rank = len(pads) // 2
    axes = [i for i in range(rank) if pads[i] < 0 or pads[rank + i] < 0]
    starts = [max(-pads[i], 0) for i in axes]
    ends = [pads[rank + i] if pads[rank + i] < 0 else _END for i in axes]
    return ctx.add1("Slice", [x, ctx.const(starts, hint="starts"), ctx.const(ends, hint="ends"),
                              ctx.const(axes, hint="axes")], output)


def _onnx_pad(ctx, node, x, pads, mode):
    inputs = [x, ctx.const(pads, hint="pads")]
    if mode == "constant":
        dtype = ctx.graph.values[node.inputs[0]].dtype
        inputs.append(ctx.const(_pad_value(ctx, node, dtype), dtype=dtype, hint="value"))
    ctx.add1("Pad", inputs, ctx.output(node), mode=mode)


def _pad_value(ctx, node, dtype: str):
    """The constant; -0.0 for a float zero a pool reads (see the module docstring)."""
    value = node.attrs["value"]
    if value == 0 and "float" in dtype and any(c.op in _POOLS for c in ctx.graph.consumers(node.outputs[0])):
        return -0.0
    return value


def _wrap_by_concat(ctx, node, x, pads):
    """Circular padding without 'wrap': per padded dim, Concat(tail, x, head)."""
    rank = len(pads) // 2
    axes = [i for i in range(rank) if pads[i] or pads[rank + i]]
    for axis in axes:
        begin, end = pads[axis], pads[rank + axis]
        pieces = [x]
        if begin:
            pieces.insert(0, _slice(ctx, x, -begin, _END, axis))
        if end:
            pieces.append(_slice(ctx, x, 0, end, axis))
        last = axis == axes[-1]
        x = ctx.add1("Concat", pieces, ctx.output(node) if last else None, axis=axis)


def _slice(ctx, x, start, end, axis):
    return ctx.add1("Slice", [x, ctx.const([start], hint="starts"), ctx.const([end], hint="ends"),
                              ctx.const([axis], hint="axes")])


def _lower_pad(ctx, node, wrap_mode: bool):
    pads = node.attrs["pads"]
    grow = [max(p, 0) for p in pads]
    x = ctx.input(node)
    if not any(grow):  # only crops, or pads nothing
        if any(pads):
            _crop(ctx, x, pads, ctx.output(node))
        else:
            ctx.add1("Identity", [x], ctx.output(node))
        return
    if any(p < 0 for p in pads):
        x = _crop(ctx, x, pads)
    if node.attrs["mode"] == "circular" and not wrap_mode:
        _wrap_by_concat(ctx, node, x, grow)
    else:
        _onnx_pad(ctx, node, x, grow, _ONNX_MODES[node.attrs["mode"]])


@lowers(PAD)
def pad(ctx, node):
    _lower_pad(ctx, node, wrap_mode=False)


@lowers(PAD, since=19)
def pad_with_wrap(ctx, node):
    _lower_pad(ctx, node, wrap_mode=True)
