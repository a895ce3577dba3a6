"""Lowerings of indexing: ``slice`` (Slice, bounds as inputs), ``index_select``
(Gather) and ``gather`` (GatherElements)."""
from graphnn.backend.onnx.lowering.shape import int_vector
from graphnn.backend.onnx.registry import lowers


@lowers("slice")
def slice_(ctx, node):
    x, *dynamic = ctx.inputs(node)
    starts = node.attrs["starts"]
    count = sum(1 for s in starts if s is None)  # dynamic inputs: the starts', then the ends'
    inputs = [x, int_vector(ctx, starts, dynamic[:count], "starts"),
              int_vector(ctx, node.attrs["ends"], dynamic[count:], "ends"),
              ctx.const(node.attrs["dims"], hint="axes"), ctx.const(node.attrs["steps"], hint="steps")]
    ctx.add1("Slice", inputs, ctx.output(node))


@lowers("index_select")
def index_select(ctx, node):
    ctx.add1("Gather", ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"])


@lowers("gather")
def gather(ctx, node):
    ctx.add1("GatherElements", ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"])
