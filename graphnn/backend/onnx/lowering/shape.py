"""Lowerings of ops that rearrange or replicate elements.

Size vectors (a reshape's or expand's target) are one initializer when all entries
are constants; entries read at run time (``x.view(x.size(0), -1)`` when the pass that
turns that into ONNX's copy-dim 0 did not run) are unsqueezed and concatenated.
"""
import numpy as np
from onnx import numpy_helper

from graphnn.backend.onnx.registry import lowers
from graphnn.errors import UnsupportedError
from graphnn.ops.shape import (CONCAT, EXPAND, FLATTEN, FLIP, FULL_LIKE, REPEAT, RESHAPE, SPLIT, SQUEEZE, TRANSPOSE,
                               UNSQUEEZE)


def int_vector(ctx, entries, dynamic, hint):
    """A 1-d int64 tensor of ``entries``: ints, or None for the next name in ``dynamic``
    (an int64 scalar computed at run time)."""
    if all(e is not None for e in entries):
        return ctx.const(list(entries), hint=hint)
    pieces, dynamic = [], iter(dynamic)
    for e in entries:
        if e is None:
            pieces.append(ctx.add1("Unsqueeze", [next(dynamic), ctx.const([0], hint="axes")]))
        else:
            pieces.append(ctx.const([e], hint=hint))
    return ctx.add1("Concat", pieces, axis=0)


def _shape(ctx, value):
    return ctx.graph.values[value].shape


def _reshape_entry(entry):
    if entry == "same":
        return 0
    if entry == 0:
        raise UnsupportedError("reshape to a zero-size dim is not supported")
    return entry


@lowers(RESHAPE)
def reshape(ctx, node):
    x, *dynamic = ctx.inputs(node)
    entries = [None if e is None else _reshape_entry(e) for e in node.attrs["shape"]]
    ctx.add1("Reshape", [x, int_vector(ctx, entries, dynamic, "shape")], ctx.output(node))


@lowers(FLATTEN)
def flatten(ctx, node):
    """Flatten(axis=1) when torch flattens dims 1.. (the common case), else a Reshape."""
    in_shape = _shape(ctx, node.inputs[0])
    out_shape = _shape(ctx, node.outputs[0])
    rank = len(in_shape)
    start = node.attrs["start_dim"] % max(rank, 1)
    end = node.attrs["end_dim"] % max(rank, 1)
    if rank >= 2 and start == 1 and end == rank - 1:
        ctx.add1("Flatten", ctx.inputs(node), ctx.output(node), axis=1)
        return
    target = [0] * start + [-1]
    for d in out_shape[start + 1:]:
        if not isinstance(d, int):
            raise UnsupportedError(f"{node.where}: flatten before a dynamic dim is not supported")
        target.append(d)
    ctx.add1("Reshape", [ctx.input(node), ctx.const(target, hint="shape")], ctx.output(node))


@lowers(TRANSPOSE)
def transpose(ctx, node):
    ctx.add1("Transpose", ctx.inputs(node), ctx.output(node), perm=node.attrs["perm"])


@lowers(SQUEEZE)
def squeeze(ctx, node):
    """Axes as an input (opset 13+); never empty (that would squeeze every 1)."""
    ctx.add1("Squeeze", [ctx.input(node), ctx.const(node.attrs["dims"], hint="axes")], ctx.output(node))


@lowers(UNSQUEEZE)
def unsqueeze(ctx, node):
    ctx.add1("Unsqueeze", [ctx.input(node), ctx.const(node.attrs["dims"], hint="axes")], ctx.output(node))


@lowers(CONCAT)
def concat(ctx, node):
    ctx.add1("Concat", ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"])


@lowers(SPLIT)
def split(ctx, node):
    """Split with the piece sizes as an input (opset 13+)."""
    sizes = ctx.const(node.attrs["sizes"], hint="split")
    ctx.add("Split", [ctx.input(node), sizes], ctx.outputs(node), axis=node.attrs["dim"])


@lowers(EXPAND)
def expand(ctx, node):
    """ONNX Expand broadcasts, so a 1 in its target keeps the input dim (torch's -1)."""
    x, *dynamic = ctx.inputs(node)
    entries = [1 if e == -1 else e for e in node.attrs["shape"]]
    ctx.add1("Expand", [x, int_vector(ctx, entries, dynamic, "shape")], ctx.output(node))


@lowers(REPEAT)
def repeat(ctx, node):
    """Tile; repeats beyond the input's rank first add leading dims of 1. Counts traced at
    run time are concatenated into the repeats vector."""
    x, *dynamic = ctx.inputs(node)
    repeats = node.attrs["repeats"]
    extra = len(repeats) - len(_shape(ctx, node.inputs[0]))
    if extra:
        x = ctx.add1("Unsqueeze", [x, ctx.const(list(range(extra)), hint="axes")])
    ctx.add1("Tile", [x, int_vector(ctx, repeats, dynamic, "repeats")], ctx.output(node))


@lowers(FLIP)
def flip(ctx, node):
    """ONNX has no Flip: a Slice from the end with step -1 over each flipped dim."""
    dims = node.attrs["dims"]
    big = np.iinfo(np.int64).max
    inputs = [ctx.input(node), ctx.const([-1] * len(dims), hint="starts"),
              ctx.const([-big] * len(dims), hint="ends"), ctx.const(dims, hint="axes"),
              ctx.const([-1] * len(dims), hint="steps")]
    ctx.add1("Slice", inputs, ctx.output(node))


@lowers(FULL_LIKE)
def full_like(ctx, node):
    """ConstantOfShape of the input's run-time shape."""
    value = numpy_helper.from_array(np.asarray([node.attrs["value"]]).astype(node.attrs["dtype"]), "value")
    shape = ctx.add1("Shape", ctx.inputs(node))
    ctx.add1("ConstantOfShape", [shape], ctx.output(node), value=value)
