"""Rules for reductions: sum, mean, prod, amax / amin, max / min (all three torch
forms), argmax / argmin, var / std, norm / vector_norm and logsumexp.

Each op has attrs ``dims`` (sorted, non-negative; every dim when torch's ``dim`` is
None) and ``keepdim``. Sums and products of ints and bools are int64, as in torch, by
a cast before the op.
"""
import torch

from graphnn.frontend.layers.elementwise import binary, cast
from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.rules import Ref, function_rule, function_rule_for, method_rule
from graphnn.ops.elementwise import MAXIMUM, MINIMUM
from graphnn.ops.reduce import AMAX, AMIN, ARGMAX, ARGMIN, LOGSUMEXP, MAX_DIM, MEAN, MIN_DIM, NORM, PROD, STD, SUM, VAR
from graphnn.ops.shape import RESHAPE
from graphnn.tensors import dtype_name, is_float


def reduce_dims(b, x, dim) -> list:
    """torch's ``dim`` (None, an int, or a sequence; None and () mean every dim)."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return list(range(b.rank(x)))
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    return sorted({checked_dim(b, x, d) for d in dims})


def reduce(b, op, x, dim=None, keepdim=False, **attrs):
    return b.emit(op, [x], dims=reduce_dims(b, x, dim), keepdim=bool(keepdim), **attrs)


def _accumulate(op):
    """sum / prod: ``dtype`` casts first; ints and bools accumulate in int64."""
    def rule(b, x, dim=None, keepdim=False, *, dtype=None, out=None):
        if dtype is not None:
            x = cast(b, x, dtype_name(dtype))
        elif not is_float(b.dtype(x)):
            x = cast(b, x, "int64")
        return reduce(b, op, x, dim, keepdim)
    return rule


function_rule(torch.sum)(method_rule("sum")(_accumulate(SUM)))
function_rule(torch.prod)(method_rule("prod")(_accumulate(PROD)))


@function_rule(torch.mean)
@method_rule("mean")
def mean(b, x, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        x = cast(b, x, dtype_name(dtype))
    return reduce(b, MEAN, x, dim, keepdim)


@function_rule(torch.amax)
@method_rule("amax")
def amax(b, x, dim=(), keepdim=False, *, out=None):
    return reduce(b, AMAX, x, dim, keepdim)


@function_rule(torch.amin)
@method_rule("amin")
def amin(b, x, dim=(), keepdim=False, *, out=None):
    return reduce(b, AMIN, x, dim, keepdim)


def _extreme(whole, elementwise, along_dim, return_type):
    """torch.max(x) -> amax of all; torch.max(x, other) -> maximum; torch.max(x, dim)
    -> (values, indices), one two-output op."""
    def rule(b, x, dim=None, keepdim=False, *, out=None):
        if dim is None:
            return reduce(b, whole, x)
        if isinstance(dim, Ref):
            return binary(b, elementwise, x, dim)
        outputs = b.emit(along_dim, [x], num_outputs=2, dim=checked_dim(b, x, dim), keepdim=bool(keepdim))
        return return_type(outputs)
    return rule


function_rule(torch.max)(method_rule("max")(_extreme(AMAX, MAXIMUM, MAX_DIM, torch.return_types.max)))
function_rule(torch.min)(method_rule("min")(_extreme(AMIN, MINIMUM, MIN_DIM, torch.return_types.min)))


def _arg(op):
    def rule(b, x, dim=None, keepdim=False, *, out=None):
        if dim is None and keepdim:
            raise b.unsupported(f"{op.name} with keepdim=True over all dims")
        if dim is None:
            x, dim = b.emit(RESHAPE, [x], shape=[-1]), 0
        return b.emit(op, [x], dim=checked_dim(b, x, dim), keepdim=bool(keepdim))
    return rule


function_rule(torch.argmax)(method_rule("argmax")(_arg(ARGMAX)))
function_rule(torch.argmin)(method_rule("argmin")(_arg(ARGMIN)))


def _spread(op):
    """var / std in both torch signatures: (dim, unbiased, keepdim) and
    (dim, *, correction, keepdim); ``x.var(False)`` is the old unbiased-only form."""
    def rule(b, x, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        if correction is None:
            correction = 1 if unbiased is None else int(unbiased)
        return reduce(b, op, x, dim, keepdim, correction=correction)
    return rule


function_rule(torch.var)(method_rule("var")(_spread(VAR)))
function_rule(torch.std)(method_rule("std")(_spread(STD)))

_NORM_ORDERS = {"fro": 2.0, None: 2.0}


def _norm(b, x, p, dim, keepdim, dtype):
    if dtype is not None:
        x = cast(b, x, dtype_name(dtype))
    p = _NORM_ORDERS.get(p, p)
    if not isinstance(p, (int, float)):
        raise b.unsupported(f"norm of order {p!r}")
    return reduce(b, NORM, x, dim, keepdim, p=float(p))


@function_rule(torch.norm)
@method_rule("norm")
def norm(b, x, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    return _norm(b, x, p, dim, keepdim, dtype)


@function_rule(torch.linalg.vector_norm)
def vector_norm(b, x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    return _norm(b, x, ord, dim, keepdim, dtype)


@function_rule(torch.linalg.norm)
def linalg_norm(b, x, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector norm, or the Frobenius norm (ord None); other matrix norms (an ord over
    two dims) are refused."""
    over = len(reduce_dims(b, x, dim))
    if ord is not None and over == 2:
        raise b.unsupported(f"torch.linalg.norm of order {ord!r} over 2 dims (a matrix norm)")
    return _norm(b, x, ord, dim, keepdim, dtype)


@function_rule(torch.logsumexp)
@method_rule("logsumexp")
def logsumexp(b, x, dim, keepdim=False, *, out=None):
    return reduce(b, LOGSUMEXP, x, dim, keepdim)



@function_rule(torch.histc)
@method_rule("histc")
def histc(b, x, bins=100, min=0, max=0, *, out=None):
    """Counts per bin over a given range: each element's bin is trunc((x - min) * bins /
    (max - min)) as torch's kernel computes it (``max`` itself in the last bin, elements outside
    the range not counted), compared with every bin and summed. transformers' MoE layers count
    the tokens each expert gets this way (grouped_mm's offsets)."""
    if min == max:
        raise b.unsupported("torch.histc without a range (min == max: torch takes the data's own min and max)")
    call = function_rule_for
    flat = call(torch.reshape)(b, x, [-1])
    scaled = call(torch.div)(b, call(torch.mul)(b, call(torch.sub)(b, flat, min), bins), max - min)
    index = call(torch.clamp)(b, cast(b, call(torch.floor)(b, scaled), "int64"), None, bins - 1)
    inside = call(torch.logical_and)(b, call(torch.ge)(b, flat, min), call(torch.le)(b, flat, max))
    hits = call(torch.eq)(b, call(torch.unsqueeze)(b, index, 1), call(torch.arange)(b, bins))
    counted = call(torch.logical_and)(b, hits, call(torch.unsqueeze)(b, inside, 1))
    return reduce(b, SUM, cast(b, counted, b.dtype(x)), 0)
