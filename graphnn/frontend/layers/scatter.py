"""Rules for scatters that combine values, the message passing of graph networks and the
token routing of mixtures of experts: ``scatter_add``, ``scatter_reduce`` (sum, prod, amax,
amin, mean; ``include_self``), ``index_add`` / ``index_copy`` (a 1-d index along one dim,
as a scatter whose index is broadcast over the other dims). All are the ``scatter`` op,
ONNX ScatterElements with its reduction (add and mul from opset 16, max and min from 18).
``masked_scatter`` (source's elements into the masked positions in order) is a gather by the
running count of the mask instead.
"""
import math

import torch

from graphnn.frontend.layers.indexing import scatter
from graphnn.frontend.layers.shape import checked_dim, emit_expand, shape_of
from graphnn.frontend.rules import call_rule, function_rule, method_rule, method_rule_for
from graphnn.tensors import is_float

# What a position scattered into starts from when the reduction leaves x's own value out.
_IDENTITY = {"sum": 0, "prod": 1, "mean": 0, "amax": -math.inf, "amin": math.inf}



@function_rule(torch.scatter_add)
@method_rule("scatter_add", "scatter_add_")
def scatter_add(b, x, dim, index, src):
    return scatter(b, x, dim, index, src, reduce="add")


@function_rule(torch.scatter_reduce)
@method_rule("scatter_reduce", "scatter_reduce_")
def scatter_reduce(b, x, dim, index, src, reduce, *, include_self=True, out=None):
    if reduce not in _IDENTITY:
        raise b.unsupported(f"scatter_reduce with reduce={reduce!r}")
    start = x if include_self else _cleared(b, x, dim, index, reduce)
    if reduce != "mean":
        return scatter(b, start, dim, index, src, reduce=reduce)
    if not is_float(b.dtype(x)):
        raise b.unsupported("scatter_reduce(reduce='mean') of an integer tensor (torch floors the mean)")
    total = scatter(b, start, dim, index, src, reduce="sum")
    counted = call_rule(torch.ones_like if include_self else torch.zeros_like, b, x)  # x itself counts once
    counts = scatter(b, counted, dim, index, call_rule(torch.ones_like, b, src), reduce="sum")
    return call_rule(torch.where, b, call_rule(torch.gt, b, counts, 0), call_rule(torch.div, b, total, counts), x)


def _cleared(b, x, dim, index, reduce):
    """x with every position the index names set to the reduction's identity (include_self=False)."""
    identity = _IDENTITY[reduce]
    if not is_float(b.dtype(x)) and math.isinf(identity):
        info = torch.iinfo(getattr(torch, b.dtype(x)))
        identity = info.min if identity < 0 else info.max
    return scatter(b, x, dim, index, value=identity)


@function_rule(torch.index_add)
@method_rule("index_add", "index_add_")
def index_add(b, x, dim, index, source, *, alpha=1, out=None):
    """x[..., index[i], ...] += alpha * source[..., i, ...] along ``dim``; repeated indices add up."""
    if alpha != 1:
        source = call_rule(torch.mul, b, source, alpha)
    return scatter(b, x, dim, _spread(b, x, dim, index, source), source, reduce="add")


@function_rule(torch.index_copy)
@method_rule("index_copy", "index_copy_")
def index_copy(b, x, dim, index, source, *, out=None):
    return scatter(b, x, dim, _spread(b, x, dim, index, source), source)


def _spread(b, x, dim, index, source):
    """The 1-d index laid along ``dim`` and broadcast to the source's shape: a scatter index."""
    dim = checked_dim(b, x, dim)
    if b.rank(index) != 1:
        raise b.shape_error(f"expects a 1-d index, gets {b.rank(index)}-d")
    along = call_rule(torch.reshape, b, index, [-1 if d == dim else 1 for d in range(b.rank(source))])
    return emit_expand(b, along, shape_of(b, source))


@method_rule("masked_scatter", "masked_scatter_")
def masked_scatter(b, x, mask, source):
    """x with its masked positions, in row-major order, taking source's elements one after
    another (a vision-language model merging image features into its token embeddings): each
    masked position's running count picks its element of the flattened source."""
    mask = method_rule_for("expand_as")(b, mask, x)
    flat_mask = call_rule(torch.flatten, b, mask)
    taken = call_rule(torch.cumsum, b, flat_mask, 0)  # int64: the count of masked positions so far
    positions = call_rule(torch.clamp, b, call_rule(torch.sub, b, taken, 1), min=0)
    picked = call_rule(torch.index_select, b, call_rule(torch.flatten, b, source), 0, positions)
    return call_rule(torch.where, b, mask, method_rule_for("view_as")(b, picked, x), x)
