"""Lowerings of indexing: ``slice`` (Slice, bounds as inputs), ``index_select``
(Gather) and ``gather`` (GatherElements)."""
from graphnn.backend.onnx.lowering.shape import int_vector
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.indexing import GATHER, INDEX_SELECT, SCATTER, SLICE, SLICE_SCATTER

INT64_MAX = 2**63 - 1  # an end meaning "to the end"


@lowers(SLICE)
def slice_(ctx, node):
    x, *dynamic = ctx.inputs(node)
    starts = node.attrs["starts"]
    count = sum(1 for s in starts if s is None)  # dynamic inputs: the starts', then the ends'
    inputs = [x, int_vector(ctx, starts, dynamic[:count], "starts"),
              int_vector(ctx, node.attrs["ends"], dynamic[count:], "ends"),
              ctx.const(node.attrs["dims"], hint="axes"), ctx.const(node.attrs["steps"], hint="steps")]
    ctx.add1("Slice", inputs, ctx.output(node))


@lowers(INDEX_SELECT)
def index_select(ctx, node):
    ctx.add1("Gather", ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"])


@lowers(GATHER)
def gather(ctx, node):
    ctx.add1("GatherElements", ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"])


@lowers(SCATTER)
def scatter(ctx, node):
    ctx.add1("ScatterElements", ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"])


@lowers(SLICE_SCATTER)
def slice_scatter(ctx, node):
    """The part before the slice, src, and the part after it, joined on the dim (Concat of
    two Slices around src: no index tensors, and dynamic sizes work as they are)."""
    x, src, *dynamic = ctx.inputs(node)
    dynamic = iter(dynamic)
    start, end = ((value, None if value is not None else next(dynamic))
                  for value in (node.attrs["start"], node.attrs["end"]))
    axes = ctx.const([node.attrs["dim"]], hint="axes")
    pieces = [src]
    if start != (0, None):
        head_end = int_vector(ctx, [start[0]], [start[1]], "ends")
        pieces.insert(0, ctx.add1("Slice", [x, ctx.const([0], hint="starts"), head_end, axes]))
    if end != (INT64_MAX, None):
        tail_start = int_vector(ctx, [end[0]], [end[1]], "starts")
        pieces.append(ctx.add1("Slice", [x, tail_start, ctx.const([INT64_MAX], hint="ends"), axes]))
    if len(pieces) == 1:
        ctx.add1("Identity", pieces, ctx.output(node))
    else:
        ctx.add1("Concat", pieces, ctx.output(node), axis=node.attrs["dim"])
