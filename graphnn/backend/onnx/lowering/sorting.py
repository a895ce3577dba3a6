"""Lowerings of ``topk`` (ONNX TopK, k an int64 input: the dim's size, read off the
input's shape when it is dynamic, for a sort) and the running reductions, which ONNX lacks
(it has only CumSum): each output element reduces the input masked to the elements up to it,
a triangular mask of the dim's size, the masked-out elements set to the reduction's identity.
``cumprod`` is a ReduceProd (exact, unlike exp(cumsum(log))), ``logcumsumexp`` a
ReduceLogSumExp, ``cummax`` / ``cummin`` a ReduceMax / ReduceMin, and their index the last
position up to i holding that value (torch's choice among ties)."""
import numpy as np

from graphnn.backend.onnx.lowering.reduce import reduce
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.sorting import CUMMAX, CUMMIN, CUMPROD, LOGCUMSUMEXP, TOPK


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


def _running(ctx, node, fill):
    """(x[..., i, j, ...] for j <= i, else ``fill``; the mask j <= i; the position j, int64;
    the last two broadcastable to the first): the input with a new axis dim + 1."""
    dim = node.attrs["dim"]
    rank = len(ctx.graph.values[node.inputs[0]].shape)
    size = ctx.add1("Squeeze", [_dim_size(ctx, node, dim), ctx.const([0], hint="axes")])
    positions = ctx.add1("Range", [ctx.const(0, hint="start"), size, ctx.const(1, hint="step")])
    sources = ctx.add1("Unsqueeze", [positions, ctx.const([0], hint="row")])  # j, along the last axis
    targets = ctx.add1("Unsqueeze", [positions, ctx.const([1], hint="column")])  # i
    mask = ctx.add1("LessOrEqual", [sources, targets])  # mask[i, j]: j <= i
    trailing = rank - 1 - dim
    if trailing:
        axes = ctx.const(list(range(2, 2 + trailing)), hint="trailing")
        mask, sources = ctx.add1("Unsqueeze", [mask, axes]), ctx.add1("Unsqueeze", [sources, axes])
    rows = ctx.add1("Unsqueeze", [ctx.input(node), ctx.const([dim], hint="rows")])  # x[..., 1, j, ...]
    fill = ctx.const(fill, dtype=ctx.graph.values[node.inputs[0]].dtype, hint="fill")
    return ctx.add1("Where", [mask, rows, fill]), mask, sources


@lowers(CUMPROD)
def cumprod(ctx, node):
    masked, _, _ = _running(ctx, node, 1)
    reduce(ctx, "ReduceProd", masked, [node.attrs["dim"] + 1], False, ctx.output(node))


@lowers(LOGCUMSUMEXP)
def logcumsumexp(ctx, node):
    masked, _, _ = _running(ctx, node, -np.inf)
    reduce(ctx, "ReduceLogSumExp", masked, [node.attrs["dim"] + 1], False, ctx.output(node))


def _extreme(op_type, identity):
    def lower(ctx, node):
        dtype = ctx.graph.values[node.inputs[0]].dtype
        masked, mask, sources = _running(ctx, node, identity(np.dtype(dtype)))
        axis = node.attrs["dim"] + 1
        values_out, indices_out = ctx.outputs(node)
        values = reduce(ctx, op_type, masked, [axis], False, values_out)
        equal = ctx.add1("Equal", [masked, ctx.add1("Unsqueeze", [values, ctx.const([axis], hint="axis")])])
        reached = ctx.add1("And", [equal, mask])  # a fill equal to the value is not a position
        where = ctx.add1("Where", [reached, sources, ctx.const(-1, hint="none")])
        reduce(ctx, "ReduceMax", where, [axis], False, indices_out)
    return lower


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


lowers(CUMMAX)(_extreme("ReduceMax", _lowest))
lowers(CUMMIN)(_extreme("ReduceMin", _highest))
