"""Lowerings of ``trilu``: ONNX Trilu from opset 14; before, the triangle as a mask
``col - row <= diagonal`` (tril) or ``>=`` (triu) from two Ranges over the run-time
sizes, then Where(mask, x, 0) or, for bool, And (LessOrEqual / GreaterOrEqual exist since opset 12)."""
import numpy as np

from graphnn.backend.onnx.registry import lowers
from graphnn.ops.masking import TRILU


@lowers(TRILU, since=14)
def trilu(ctx, node):
    k = ctx.const(node.attrs["diagonal"], hint="diagonal")
    ctx.add1("Trilu", [ctx.input(node), k], ctx.output(node), upper=int(node.attrs["upper"]))


@lowers(TRILU)
def trilu_by_mask(ctx, node):
    x = ctx.input(node)
    shape = ctx.add1("Shape", [x])
    rows = _positions(ctx, shape, -2)
    cols = _positions(ctx, shape, -1)
    offset = ctx.add1("Sub", [ctx.add1("Unsqueeze", [cols, ctx.const([0], hint="axes")]),
                              ctx.add1("Unsqueeze", [rows, ctx.const([1], hint="axes")])])
    k = ctx.const(node.attrs["diagonal"], hint="diagonal")
    keep = ctx.add1("GreaterOrEqual" if node.attrs["upper"] else "LessOrEqual", [offset, k])
    dtype = ctx.graph.values[node.inputs[0]].dtype
    if dtype == "bool":  # onnxruntime has no bool Where; And keeps the same elements
        ctx.add1("And", [keep, x], ctx.output(node))
        return
    zero = ctx.const(np.zeros((), dtype=dtype), dtype=dtype, hint="zero")
    ctx.add1("Where", [keep, x, zero], ctx.output(node))


def _positions(ctx, shape, axis):
    """0..n-1 for the run-time size of dim ``axis``."""
    size = ctx.add1("Gather", [shape, ctx.const(axis, hint="axis")], axis=0)
    return ctx.add1("Range", [ctx.const(0, hint="start"), size, ctx.const(1, hint="step")])
