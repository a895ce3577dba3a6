"""Lowerings of ``topk`` (ONNX TopK, k an int64 input: the dim's size, read off the
input's shape when it is dynamic, for a sort) and ``cumprod`` (ONNX has no CumProd: each
output element is the ReduceProd of the input masked to the elements up to it, a
triangular mask of the dim's size; exact, unlike exp(cumsum(log))."""
from graphnn.backend.onnx.lowering.reduce import reduce
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.sorting import CUMPROD, TOPK


def _dim_size(ctx, node, dim):
    """The input's size along ``dim`` as a 1-element int64 tensor."""
    size = ctx.graph.values[node.inputs[0]].shape[dim]
    if isinstance(size, int):
        return ctx.const([size], hint="size")
    shape = ctx.add1("Shape", [ctx.input(node)])
    return ctx.add1("Gather", [shape, ctx.const([dim], hint="dim")], axis=0)


@lowers(TOPK)
def topk(ctx, node):
    dim, k = node.attrs["dim"], node.attrs["k"]
    count = ctx.const([k], hint="k") if k is not None else _dim_size(ctx, node, dim)
    ctx.add("TopK", [ctx.input(node), count], ctx.outputs(node), axis=dim,
            largest=int(node.attrs["largest"]), sorted=1)


@lowers(CUMPROD)
def cumprod(ctx, node):
    dim = node.attrs["dim"]
    rank = len(ctx.graph.values[node.inputs[0]].shape)
    size = ctx.add1("Squeeze", [_dim_size(ctx, node, dim), ctx.const([0], hint="axes")])
    positions = ctx.add1("Range", [ctx.const(0, hint="start"), size, ctx.const(1, hint="step")])
    sources = ctx.add1("Unsqueeze", [positions, ctx.const([0], hint="row")])  # j, along the last axis
    targets = ctx.add1("Unsqueeze", [positions, ctx.const([1], hint="column")])  # i
    mask = ctx.add1("LessOrEqual", [sources, targets])  # mask[i, j]: j <= i
    trailing = rank - 1 - dim
    if trailing:
        mask = ctx.add1("Unsqueeze", [mask, ctx.const(list(range(2, 2 + trailing)), hint="trailing")])
    rows = ctx.add1("Unsqueeze", [ctx.input(node), ctx.const([dim], hint="rows")])  # x[..., 1, j, ...]
    ones = ctx.const(1, dtype=ctx.graph.values[node.inputs[0]].dtype, hint="one")
    masked = ctx.add1("Where", [mask, rows, ones])  # x[..., i, j, ...], 1 past i
    reduce(ctx, "ReduceProd", masked, [dim + 1], False, ctx.output(node))
