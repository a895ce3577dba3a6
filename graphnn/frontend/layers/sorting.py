"""Rules for ordering and running products: ``torch.topk``, ``torch.sort`` /
``torch.argsort`` (a topk over the whole dim) and ``torch.cumprod``.

Each is one ONNX op or one small pattern; torch's decompositions of them are long and, for
sort, absent. Values and indices come back as torch's named tuples (``.values``,
``.indices``); bool tensors (ONNX TopK has no bool) are ordered as int64, False < True as in torch.
"""
import torch

from graphnn.frontend.layers.elementwise import cast
from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.rules import Ref, function_rule, method_rule
from graphnn.ops.sorting import CUMPROD, TOPK
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
