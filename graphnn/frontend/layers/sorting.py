"""Rules for ordering and running reductions: ``torch.topk``, ``torch.sort`` /
``torch.argsort`` (a topk over the whole dim); order statistics (``median``, ``kthvalue``,
``quantile``: a topk, then the k-th element); ``bucketize`` / ``searchsorted`` (a count of
the boundaries below each value); and ``cumprod``, ``cummax`` / ``cummin``, ``logcumsumexp``.

Each is one ONNX op or one small pattern; torch's decompositions of them are long and, for
sort, absent. Values and indices come back as torch's named tuples (``.values``,
``.indices``); bool tensors (ONNX TopK has no bool) are ordered as int64, False < True as in torch.
"""
import torch

from graphnn.frontend.layers.elementwise import cast
from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.rules import Ref, function_rule, function_rule_for, method_rule
from graphnn.ops.sorting import CUMMAX, CUMMIN, CUMPROD, LOGCUMSUMEXP, TOPK
from graphnn.tensors import dtype_name, is_float


def _ordered(b, x, k, dim, largest):
    """(values, indices) of the k largest (smallest) along dim, sorted; k None: all."""
    if isinstance(k, Ref) or not isinstance(k, (int, type(None))):
        raise b.unsupported("a k computed in the graph (only a Python int)")
    if b.rank(x) == 0:
        raise b.unsupported("sorting a 0-d tensor")
    source = cast(b, x, "int64") if b.dtype(x) == "bool" else x
    values, indices = b.emit(TOPK, [source], num_outputs=2, dim=checked_dim(b, x, dim), k=k, largest=bool(largest))
    return (cast(b, values, "bool") if source is not x else values), indices


@function_rule(torch.topk)
@method_rule("topk")
def topk(b, x, k, dim=-1, largest=True, sorted=True, *, out=None):
    """Always sorted: an unsorted topk may come in any order, so sorted is one of them."""
    return torch.return_types.topk(_ordered(b, x, k, dim, largest))


@function_rule(torch.sort)
@method_rule("sort")
def sort(b, x, dim=-1, descending=False, stable=False, *, out=None):
    return torch.return_types.sort(_ordered(b, x, None, dim, descending))


@function_rule(torch.argsort)
@method_rule("argsort")
def argsort(b, x, dim=-1, descending=False, stable=False, *, out=None):
    return _ordered(b, x, None, dim, descending)[1]


@function_rule(torch.cumprod)
@method_rule("cumprod", "cumprod_")
def cumprod(b, x, dim, *, dtype=None, out=None):
    """As cumsum: ints and bools multiply as int64 unless a dtype is given."""
    if dtype is not None:
        target = dtype_name(dtype)
    else:
        target = b.dtype(x) if is_float(b.dtype(x)) else "int64"
    dim = checked_dim(b, x, dim) if b.rank(x) else 0
    if b.rank(x) == 0:
        return cast(b, x, target)
    return b.emit(CUMPROD, [cast(b, x, target)], dim=dim)


def _running_dim(b, x, dim) -> int:
    return checked_dim(b, x, dim) if b.rank(x) else 0


def _running_extreme(op, named_tuple):
    def rule(b, x, dim, *, out=None):
        """cummax / cummin: bools run as int64 (False < True) and come back as bools."""
        if b.rank(x) == 0:
            return named_tuple((x, b.constant(torch.tensor(0))))
        source = cast(b, x, "int64") if b.dtype(x) == "bool" else x
        values, indices = b.emit(op, [source], num_outputs=2, dim=_running_dim(b, x, dim))
        return named_tuple(((cast(b, values, "bool") if source is not x else values), indices))
    return rule


function_rule(torch.cummax)(method_rule("cummax")(_running_extreme(CUMMAX, torch.return_types.cummax)))
function_rule(torch.cummin)(method_rule("cummin")(_running_extreme(CUMMIN, torch.return_types.cummin)))


@function_rule(torch.logcumsumexp)
@method_rule("logcumsumexp")
def logcumsumexp(b, x, dim, *, out=None):
    return x if b.rank(x) == 0 else b.emit(LOGCUMSUMEXP, [x], dim=_running_dim(b, x, dim))


# ------------------------------------------------------------------ order statistics
def _static_size(b, x, dim, what: str) -> int:
    size = b.shape(x)[dim]
    if not isinstance(size, int):
        raise b.unsupported(f"{what} along a dim whose size is known only at run time ({size})")
    return size


def _at(b, x, dim, position: int, keepdim: bool):
    """x's element ``position`` along ``dim``; the dim kept (size 1) or dropped."""
    picked = function_rule_for(torch.narrow)(b, x, dim, position, 1)
    return picked if keepdim else function_rule_for(torch.squeeze)(b, picked, dim)


def _kth_smallest(b, x, k: int, dim, keepdim: bool):
    """(values, indices) of the k-th smallest along dim (1-based, as kthvalue): the last of a
    smallest-k topk, so only k elements are ordered."""
    values, indices = _ordered(b, x, k, dim, largest=False)
    return _at(b, values, dim, k - 1, keepdim), _at(b, indices, dim, k - 1, keepdim)


def _flat(b, x):
    return function_rule_for(torch.flatten)(b, x)


@function_rule(torch.median)
@method_rule("median")
def median(b, x, dim=None, keepdim=False, *, out=None):
    """The lower median, as torch: the element at (n - 1) // 2 of the sorted dim; without a
    dim, of every element, a 0-d tensor (no indices)."""
    if dim is None:
        flat = _flat(b, x)
        size = _static_size(b, flat, 0, "median")
        return _kth_smallest(b, flat, (size - 1) // 2 + 1, 0, False)[0]
    dim = checked_dim(b, x, dim)
    size = _static_size(b, x, dim, "median")
    return torch.return_types.median(_kth_smallest(b, x, (size - 1) // 2 + 1, dim, keepdim))


@function_rule(torch.kthvalue)
@method_rule("kthvalue")
def kthvalue(b, x, k, dim=-1, keepdim=False, *, out=None):
    dim = checked_dim(b, x, dim)
    size = _static_size(b, x, dim, "kthvalue")
    if not isinstance(k, int) or not 1 <= k <= size:
        raise b.shape_error(f"expects k from 1 to {size} (the size of dim {dim}), gets k={k}")
    return torch.return_types.kthvalue(_kth_smallest(b, x, k, dim, keepdim))


_QUANTILE_POSITIONS = {  # interpolation: position q * (n - 1) -> (lower index, upper index, weight)
    "linear": lambda p: (int(p // 1), -int(-p // 1), p - p // 1),
    "lower": lambda p: (int(p // 1),) * 2 + (0.0,),
    "higher": lambda p: (-int(-p // 1),) * 2 + (0.0,),
    "midpoint": lambda p: (int(p // 1), -int(-p // 1), 0.5 if p != p // 1 else 0.0),
    "nearest": lambda p: (round(p),) * 2 + (0.0,),  # half to even, as torch.round
}


def _quantiles(b, q) -> tuple[list[float], bool]:
    """(the q values, whether q was a scalar): a Python float, or a constant tensor."""
    if isinstance(q, (int, float)):
        return [float(q)], True
    values = b.module_tensor(q, "quantile q")
    return [float(v) for v in values.flatten()], values.dim() == 0


@function_rule(torch.quantile)
@method_rule("quantile")
def quantile(b, x, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The sorted dim's elements at q * (n - 1), interpolated as asked; a tensor q stacks the
    results on a new first dim, as torch."""
    if interpolation not in _QUANTILE_POSITIONS:
        raise b.unsupported(f"quantile interpolation {interpolation!r}")
    qs, scalar = _quantiles(b, q)
    if any(not 0.0 <= v <= 1.0 for v in qs):
        raise b.shape_error(f"expects q in [0, 1], gets {qs}")
    source = _flat(b, x) if dim is None else x
    axis = 0 if dim is None else checked_dim(b, x, dim)
    size = _static_size(b, source, axis, "quantile")
    ordered = _ordered(b, source, None, axis, largest=False)[0]
    results = [_interpolated(b, ordered, axis, *_QUANTILE_POSITIONS[interpolation](v * (size - 1)))
               for v in qs]
    if dim is None and keepdim:
        results = [function_rule_for(torch.reshape)(b, r, [1] * b.rank(x)) for r in results]
    elif keepdim:
        results = [function_rule_for(torch.unsqueeze)(b, r, axis) for r in results]
    return results[0] if scalar else function_rule_for(torch.stack)(b, results, 0)


def _interpolated(b, ordered, dim: int, lower: int, upper: int, weight: float):
    low = _at(b, ordered, dim, lower, False)
    if weight == 0.0 or lower == upper:
        return low
    return function_rule_for(torch.lerp)(b, low, _at(b, ordered, dim, upper, False), weight)


# ------------------------------------------------------------------ bucketing
def _count_below(b, boundaries, values, right: bool, out_int32: bool, dim: int):
    """How many boundaries lie below each value (at or below, ``right``): the sorted
    boundaries' insertion point, summed over ``dim`` of the broadcast comparison."""
    compare = function_rule_for(torch.le if right else torch.lt)(b, boundaries, values)
    count = function_rule_for(torch.sum)(b, cast(b, compare, "int64"), dim)
    return cast(b, count, "int32") if out_int32 else count


@function_rule(torch.bucketize)
def bucketize(b, x, boundaries, *, out_int32=False, right=False, out=None):
    """torch's ``right`` is the comparison's other side: right=False counts boundaries < x."""
    if b.rank(boundaries) != 1:
        raise b.shape_error(f"expects 1-d boundaries, gets {b.rank(boundaries)}-d")
    values = function_rule_for(torch.unsqueeze)(b, x, -1) if isinstance(x, Ref) else x
    return _count_below(b, boundaries, values, right, out_int32, -1)


@function_rule(torch.searchsorted)
def searchsorted(b, sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None,
                 out=None):
    if sorter is not None:
        raise b.unsupported("searchsorted with a sorter")
    right = side == "right" if side is not None else right
    if b.rank(sorted_sequence) == 1:
        return bucketize(b, values, sorted_sequence, out_int32=out_int32, right=right)
    rows = function_rule_for(torch.unsqueeze)(b, sorted_sequence, -1)  # (..., n, 1) against (..., 1, m)
    return _count_below(b, rows, function_rule_for(torch.unsqueeze)(b, values, -2), right, out_int32, -2)
