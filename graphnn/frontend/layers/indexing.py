"""Rules for indexing: ``x[...]`` (via ``index_tensor``), ``x.select``, ``torch.narrow``,
``torch.index_select``, ``torch.gather`` and its inverse ``torch.scatter``.

An index expression is applied as torch applies it when it has at most one tensor
index: every slice in one ``slice`` op, each int as an ``index_select`` of a scalar
(ONNX Gather, which drops the dim), the tensor index as an ``index_select`` (Gather
puts the index's dims in place of the indexed dim), then the ``None``s as one
``unsqueeze``. Several tensor indices in adjacent dims (transformers' ``mask[batch_idx,
kv_idx]``) go to the advanced indexing family; other mixes of them, and bool masks
(data-dependent sizes), are refused.
"""
from dataclasses import dataclass, field

import torch

from graphnn.frontend.layers.shape import INT64_MAX, checked_dim, emit_expand, shape_of
from graphnn.frontend.rules import Ref, function_rule, method_rule
from graphnn.ops.elementwise import CAST
from graphnn.ops.indexing import GATHER, INDEX_SELECT, SCATTER, SLICE, SLICE_SCATTER
from graphnn.ops.shape import UNSQUEEZE
from graphnn.ops.structural import IDENTITY


@dataclass
class _Plan:
    """What an index expression does, in input dims (``slices``, ``selects``, ``tensor``)
    and output positions (``new_axes``)."""

    slices: list = field(default_factory=list)  # (dim, start, stop, step)
    selects: list = field(default_factory=list)  # (dim, int)
    tensors: list = field(default_factory=list)  # (dim, Ref)
    new_axes: list = field(default_factory=list)


def index_tensor(b, x, index):
    """``x[index]`` for ints, slices, Ellipsis, None and one tensor (or int list) index."""
    items = [_item(b, i) for i in (index if isinstance(index, tuple) else (index,))]
    plan = _plan(b, x, items)
    out = _slice(b, x, plan.slices) if plan.slices else x
    for dim, i in sorted(plan.selects, reverse=True):  # later dims first: earlier ones keep their index
        out = b.emit(INDEX_SELECT, [out, b.constant(i, dtype="int64")], dim=dim)
    if len(plan.tensors) == 1:
        dim, tensor = plan.tensors[0]
        dim -= sum(1 for d, _ in plan.selects if d < dim)
        out = b.emit(INDEX_SELECT, [out, tensor], dim=dim)
    elif plan.tensors:
        out = _index_by_tensors(b, out, plan)
    if plan.new_axes:
        out = b.emit(UNSQUEEZE, [out], dims=plan.new_axes)
    return out if out is not x else b.emit(IDENTITY, [x])


def _item(b, item):
    """One index item in a normal form: an int list becomes a constant index tensor, a
    traced int whose value is known becomes that int."""
    if isinstance(item, Ref):
        if b.dtype(item) not in ("int64", "int32"):
            raise b.unsupported(f"indexing with a {b.dtype(item)} tensor (a mask: its result size depends on the data)")
        known = b.value(item).known
        return known if isinstance(known, int) and not b.rank(item) else item
    if isinstance(item, (list, tuple)) and item and all(type(i) is int for i in item):
        return b.constant(list(item), dtype="int64")
    if item is None or item is Ellipsis or isinstance(item, slice) or type(item) is int:
        return item
    raise b.unsupported(f"indexing with {item!r}")


def _plan(b, x, items) -> _Plan:
    rank = b.rank(x)
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > rank:
        raise b.shape_error(f"has {consumed} indices for a {rank}-d tensor")
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise b.unsupported("an index with more than one Ellipsis")
    plan, dim, position = _Plan(), 0, 0
    for item in items:
        if item is None:
            plan.new_axes.append(position)
            position += 1
        elif item is Ellipsis:
            dim, position = dim + rank - consumed, position + rank - consumed
        elif isinstance(item, slice):
            _add_slice(b, plan, dim, item)
            dim, position = dim + 1, position + 1
        elif isinstance(item, Ref):
            plan.tensors.append((dim, item))
            dim, position = dim + 1, position + b.rank(item)
        else:
            plan.selects.append((dim, item))
            dim += 1
    return plan


def _index_by_tensors(b, x, plan):
    """``mask[batch_idx, kv_idx]``: several tensor indices in adjacent dims, broadcast against
    each other (the advanced indexing family). Ints or ``None`` beside them, and tensors in
    dims apart (torch then moves the result dims to the front), are refused."""
    dims = [d for d, _ in plan.tensors]
    if plan.selects or plan.new_axes or dims != list(range(dims[0], dims[0] + len(dims))):
        raise b.unsupported("indexing with several tensors unless they index adjacent dims with only slices beside")
    from graphnn.frontend.layers.advanced_indexing import index_by_tensors  # transformers' masks
    return index_by_tensors(b, x, dims[0], [t for _, t in plan.tensors])


def _add_slice(b, plan, dim, item):
    step = 1 if item.step is None else _bound(b, item.step)
    if not isinstance(step, int) or step <= 0:
        raise b.unsupported(f"a slice step of {item.step!r} (torch allows only positive int steps)")
    start = 0 if item.start is None else _bound(b, item.start)
    stop = INT64_MAX if item.stop is None else _bound(b, item.stop)
    if (start, stop, step) != (0, INT64_MAX, 1):
        plan.slices.append((dim, start, stop, step))


def _bound(b, value):
    """A slice bound: an int, or a traced int64 scalar (an int once its value is known)."""
    if isinstance(value, Ref):
        known = b.value(value).known
        return known if isinstance(known, int) else value
    if type(value) is int:
        return value
    raise b.unsupported(f"a slice bound {value!r}")


def _slice(b, x, slices):
    """One slice op; traced bounds are None entries read from the inputs, starts first."""
    dims, starts, stops, steps = (list(column) for column in zip(*slices))
    dynamic = [v for v in starts + stops if isinstance(v, Ref)]
    return b.emit(SLICE, [x, *dynamic], dims=dims, steps=steps,
                  starts=[None if isinstance(v, Ref) else v for v in starts],
                  ends=[None if isinstance(v, Ref) else v for v in stops])


@function_rule(torch.select)
@method_rule("select")
def select(b, x, dim, index):
    return index_tensor(b, x, (slice(None),) * checked_dim(b, x, dim) + (index,))


@function_rule(torch.narrow)
@method_rule("narrow")
def narrow(b, x, dim, start, length):
    """x[..., start:start + length] on ``dim``; a negative start counts from the end."""
    start = _bound(b, start)
    if isinstance(start, Ref):
        raise b.unsupported("narrow with a start computed in the graph")
    stop = start + length
    if isinstance(start, int) and start < 0 and stop == 0:
        stop = None
    return index_tensor(b, x, (slice(None),) * checked_dim(b, x, dim) + (slice(start, stop),))


@function_rule(torch.index_select)
@method_rule("index_select")
def index_select(b, x, dim, index, *, out=None):
    return b.emit(INDEX_SELECT, [x, index], dim=checked_dim(b, x, dim))


@function_rule(torch.gather)
@method_rule("gather")
def gather(b, x, dim, index, *, sparse_grad=False, out=None):
    return b.emit(GATHER, [x, index], dim=checked_dim(b, x, dim))


@function_rule(torch.scatter)
@method_rule("scatter", "scatter_")
def scatter(b, x, dim, index, src=None, value=None, *, reduce=None, out=None):
    """``x.scatter(dim, index, src or value)`` without ``reduce``: DeepSeek-V3's router marks its
    chosen expert groups with ``mask.scatter_(1, group_idx, 1)``. A number is expanded to the
    index's shape; a src larger than the index contributes only its leading part, as in torch."""
    if reduce is not None:
        raise b.unsupported(f"scatter with reduce={reduce!r}")
    src = value if src is None else src
    if isinstance(src, Ref):
        src = _leading_part(b, src, index)  # torch requires x's dtype
    else:
        src = emit_expand(b, b.constant(src, dtype=b.dtype(x)), shape_of(b, index))
    return b.emit(SCATTER, [x, index, src], dim=checked_dim(b, x, dim))


def _leading_part(b, src, index):
    """src[:index.size(0), :index.size(1), ...]: the part of src torch's scatter reads."""
    if b.shape(src) == b.shape(index):
        return src
    if not all(isinstance(d, int) for d in (*b.shape(src), *b.shape(index))):
        raise b.unsupported("scatter with a src shaped unlike its index along a dynamic dim")
    dims = [d for d, (have, want) in enumerate(zip(b.shape(src), b.shape(index))) if have != want]
    return b.emit(SLICE, [src], dims=dims, starts=[0] * len(dims), ends=[b.shape(index)[d] for d in dims],
                  steps=[1] * len(dims))


# ------------------------------------------------------------------ writing into a part
@function_rule(torch.slice_scatter)
def slice_scatter(b, x, src, dim=0, start=None, end=None, step=1):
    """x with x[..., start:end] (on ``dim``) replaced by src: what ``x[:, :4] = y`` does.
    torch.export records slice assignment as writes into slices, and graphnn turns those
    into this."""
    dim = checked_dim(b, x, dim)
    if step != 1:
        raise b.unsupported(f"assigning to a slice with step {step} (only step 1)")
    start = 0 if start is None else _bound(b, start)
    end = INT64_MAX if end is None else _bound(b, end)
    dynamic = [v for v in (start, end) if isinstance(v, Ref)]
    src = b.emit(CAST, [src], dtype=b.dtype(x)) if b.dtype(src) != b.dtype(x) else src
    if (start, end) == (0, INT64_MAX):
        return src  # the whole dim: x[:, :4] = y is a slice of every row, then of dim 1
    return b.emit(SLICE_SCATTER, [x, src, *dynamic], dim=dim,
                  start=None if isinstance(start, Ref) else start, end=None if isinstance(end, Ref) else end)


@function_rule(torch.select_scatter)
def select_scatter(b, x, src, dim, index):
    """x with x.select(dim, index) replaced by src (``x[:, 0] = y``)."""
    dim = checked_dim(b, x, dim)
    index = _bound(b, index)
    if not isinstance(index, int):
        raise b.unsupported("assigning to x[i] with an index computed in the graph")
    end = index + 1 if index != -1 else None
    return slice_scatter(b, x, b.emit(UNSQUEEZE, [src], dims=[dim]), dim, index, end)
