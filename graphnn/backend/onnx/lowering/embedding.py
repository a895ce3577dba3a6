"""Lowerings of lookup tables: ``embedding`` (Gather on the weight) and
``embedding_bag`` without per-bag If / Loop nodes.

A bag is a set of looked-up rows. With a 2-d input each row of the input is a bag and
the rows reduce over axis 1 (ReduceSum / ReduceMean / ReduceMax). A 1-d input with
offsets becomes a (bags, N) membership mask built from the offsets (Range and
comparisons); sums are then one MatMul of the mask with the rows, maxima a masked
ReduceMax. Padded entries leave the mask (and the mean's count); empty bags give zeros,
as in torch. Every node here exists at opset 13.
"""
from dataclasses import dataclass
from typing import Optional

from graphnn.backend.onnx.context import onnx_dtype
from graphnn.backend.onnx.lowering.reduce import reduce
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.embedding import EMBEDDING, EMBEDDING_BAG

INT64_MAX = 2**63 - 1


@lowers(EMBEDDING)
def embedding(ctx, node):
    ctx.add1("Gather", [ctx.param(node, "weight"), ctx.input(node)], ctx.output(node), axis=0)


@dataclass
class _Bags:
    """Looked-up rows and which bag each one counts in.

    ``rows``: (B, L, D) for a 2-d input, (N, D) for a 1-d one (``segmented``).
    ``member``: bool, (B, L) or (bags, N); None when every entry counts (2-d, no padding).
    ``scale``: per-sample weights, broadcastable to ``member``'s shape, or None."""

    rows: str
    member: Optional[str]
    scale: Optional[str]
    segmented: bool
    dtype: str


@lowers(EMBEDDING_BAG)
def embedding_bag(ctx, node):
    indices, *rest = ctx.inputs(node)
    offsets = rest.pop(0) if node.attrs["offsets"] else None
    scale = rest.pop(0) if node.attrs["per_sample_weights"] else None
    rows = ctx.add1("Gather", [ctx.param(node, "weight"), indices], axis=0)
    padding = _not_padding(ctx, node, indices)
    member = padding if offsets is None else _membership(ctx, node, indices, offsets, padding)
    dtype = ctx.graph.values[node.outputs[0]].dtype
    bags = _Bags(rows, member, scale, offsets is not None, dtype)
    _REDUCERS[node.attrs["mode"]](ctx, bags, ctx.output(node))


def _not_padding(ctx, node, indices):
    """Entries whose index is not ``padding_idx`` (None without one)."""
    padding_idx = node.attrs["padding_idx"]
    if padding_idx is None:
        return None
    dtype = ctx.graph.values[node.inputs[0]].dtype
    return ctx.add1("Not", [ctx.add1("Equal", [indices, ctx.const(padding_idx, dtype=dtype, hint="padding_idx")])])


def _membership(ctx, node, indices, offsets, padding):
    """(bags, N) bool: entry n is in bag k when start_k <= n < end_k (and is not padding).

    A bag ends where the next starts; the last one at N, or at the last offset with
    ``include_last_offset`` (entries after it belong to no bag, as in torch)."""
    if ctx.graph.values[node.inputs[1]].dtype != "int64":
        offsets = ctx.add1("Cast", [offsets], to=onnx_dtype("int64"))
    following = ctx.add1("Slice", [offsets, ctx.const([1], hint="one"), ctx.const([INT64_MAX], hint="end")])
    length = ctx.add1("Shape", [indices])
    if node.attrs["include_last_offset"]:
        starts = ctx.add1("Slice", [offsets, ctx.const([0], hint="zero"), ctx.const([-1], hint="minus_one")])
        ends = following
    else:
        starts, ends = offsets, ctx.add1("Concat", [following, length], axis=0)
    positions = ctx.add1("Range", [ctx.const(0, hint="zero"), ctx.add1("Squeeze", [length]), ctx.const(1, hint="one")])
    column = ctx.const([1], hint="axes")
    started = ctx.add1("GreaterOrEqual", [positions, ctx.add1("Unsqueeze", [starts, column])])
    before_end = ctx.add1("Less", [positions, ctx.add1("Unsqueeze", [ends, column])])
    member = ctx.add1("And", [started, before_end])
    return member if padding is None else ctx.add1("And", [member, padding])


def _weights(ctx, bags):
    """How much each entry adds to its bag's sum: 0/1 membership times per-sample weights."""
    weights = ctx.add1("Cast", [bags.member], to=onnx_dtype(bags.dtype)) if bags.member is not None else None
    if bags.scale is None:
        return weights
    return bags.scale if weights is None else ctx.add1("Mul", [weights, bags.scale])


def _sum(ctx, bags, output=None, weights=None):
    weights = weights or _weights(ctx, bags)
    if bags.segmented:
        return ctx.add1("MatMul", [weights, bags.rows], output)
    rows = bags.rows
    if weights is not None:
        rows = ctx.add1("Mul", [rows, ctx.add1("Unsqueeze", [weights, ctx.const([-1], hint="axes")])])
    return reduce(ctx, "ReduceSum", rows, [1], False, output)


def _count(ctx, bags, ones=None):
    """(bags, 1): how many entries each bag holds (``ones``: the membership as numbers)."""
    ones = ones or ctx.add1("Cast", [bags.member], to=onnx_dtype(bags.dtype))
    return reduce(ctx, "ReduceSum", ones, [1], True)


def _mean(ctx, bags, output):
    """The sum over the count of entries, 1 for an empty bag (whose sum is 0). torch
    allows no per-sample weights here, so the weights are the membership itself."""
    if bags.member is None:
        return reduce(ctx, "ReduceMean", bags.rows, [1], False, output)
    ones = _weights(ctx, bags)
    count = ctx.add1("Max", [_count(ctx, bags, ones), ctx.const(1, dtype=bags.dtype, hint="one")])
    return ctx.add1("Div", [_sum(ctx, bags, weights=ones), count], output)


def _max(ctx, bags, output):
    """The largest of each bag's rows, entries outside it set to -inf; 0 for an empty bag."""
    if bags.member is None:
        return reduce(ctx, "ReduceMax", bags.rows, [1], False, output)
    rows = ctx.add1("Unsqueeze", [bags.rows, ctx.const([0], hint="axes")]) if bags.segmented else bags.rows
    member = ctx.add1("Unsqueeze", [bags.member, ctx.const([-1], hint="axes")])
    masked = ctx.add1("Where", [member, rows, ctx.const(float("-inf"), dtype=bags.dtype, hint="minus_inf")])
    largest = reduce(ctx, "ReduceMax", masked, [1], False)
    filled = ctx.add1("Greater", [_count(ctx, bags), ctx.const(0, dtype=bags.dtype, hint="zero")])
    return ctx.add1("Where", [filled, largest, ctx.const(0, dtype=bags.dtype, hint="zero")], output)


_REDUCERS = {"sum": _sum, "mean": _mean, "max": _max}
