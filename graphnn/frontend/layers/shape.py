"""Rules for ops that rearrange or replicate elements: view / reshape / flatten /
unflatten, permute / transpose, squeeze / unsqueeze, cat / stack, split / chunk /
unbind, expand / repeat, flip / roll, and tensors shaped like another (zeros_like...).

Sizes may be ints or traced sizes (``x.size(0)``, ``x.shape``): a traced size whose
value is known becomes an int, others stay int64 inputs of the op. Dims are
normalised here (negative dims resolved), so each op has one form. Splitting needs
the size of the split dim, so split / chunk / unbind on a dynamic dim are refused.
"""
import torch
import torch.nn as nn

from graphnn.frontend.layers.elementwise import promote
from graphnn.frontend.rules import Ref, ShapeRef, function_rule, method_rule, module_rule
from graphnn.ops.dims import normalize_axis
from graphnn.ops.indexing import SLICE
from graphnn.ops.registry import ShapeMismatch
from graphnn.ops.shape import (CONCAT, EXPAND, FLATTEN, FLIP, FULL_LIKE, REPEAT, RESHAPE, SPLIT, SQUEEZE, TRANSPOSE,
                               UNSQUEEZE)
from graphnn.ops.structural import IDENTITY, SIZE
from graphnn.tensors import dtype_name, torch_dtype

INT64_MAX = 2**63 - 1  # a slice end meaning "to the end"


# ------------------------------------------------------------------ helpers
def checked_dim(b, x, dim, extra=0):
    """``dim`` of ``x`` in 0..rank-1 (0..rank-1+extra for unsqueeze / stack)."""
    try:
        return normalize_axis(dim, b.rank(x) + extra)
    except ShapeMismatch as exc:
        raise b.shape_error(str(exc)) from None


def static_size(b, x, dim, what):
    """The int size of dim ``dim``; a dynamic one cannot be split at export time."""
    size = b.shape(x)[dim]
    if not isinstance(size, int):
        raise b.unsupported(
            f"{what} along dim {dim}, whose size ({size}) is only known at run time; "
            f"export with a static shape (dynamic_batch=False / --static) or split another dim"
        )
    return size


def size_entries(b, sizes) -> list:
    """view(2, -1), view((2, -1)), view(x.size()), view(n, -1): a list of ints and Refs,
    traced sizes whose value is known already replaced by that int."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list, ShapeRef)):
        sizes = sizes[0]
    if isinstance(sizes, ShapeRef):
        return shape_of(b, sizes.tensor)
    entries = []
    for d in sizes:
        if isinstance(d, Ref):
            known = b.value(d).known
            entries.append(known if isinstance(known, int) else d)
        elif isinstance(d, int):
            entries.append(d)
        else:
            raise b.unsupported(f"a size of type {type(d).__name__}")
    return entries


def shape_of(b, x) -> list:
    """``x``'s shape as ints, with a ``size`` node for each dynamic dim."""
    return [d if isinstance(d, int) else b.emit(SIZE, [x], dim=i) for i, d in enumerate(b.shape(x))]


def _dims(dims) -> list:
    """An int, a sequence, or dims spread as arguments (``x.permute(0, 2, 1)``)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return list(dims[0])
    return list(dims)


# ------------------------------------------------------------------ reshape family
def emit_reshape(b, x, dims):
    """One reshape op: int entries stay attrs, traced sizes become int64 inputs."""
    entries, dynamic = [], []
    for d in dims:
        if isinstance(d, Ref):
            entries.append(None)
            dynamic.append(d)
        elif isinstance(d, int) or d == "same":
            entries.append(d)
        else:
            raise b.unsupported(f"a reshape dim of type {type(d).__name__}")
    return b.emit(RESHAPE, [x, *dynamic], shape=entries)


@method_rule("view", "reshape")
def view(b, x, *shape):
    if len(shape) == 1 and isinstance(shape[0], torch.dtype):
        raise b.unsupported("x.view(dtype) (reinterpreting the bytes)")
    return emit_reshape(b, x, size_entries(b, shape))


@function_rule(torch.reshape)
def reshape(b, x, shape):
    return emit_reshape(b, x, size_entries(b, (shape,)))


@method_rule("view_as", "reshape_as")
def view_as(b, x, other):
    return emit_reshape(b, x, shape_of(b, other))


@function_rule(torch.flatten)
@method_rule("flatten")
def flatten(b, x, start_dim=0, end_dim=-1):
    return b.emit(FLATTEN, [x], start_dim=start_dim, end_dim=end_dim)


@module_rule(nn.Flatten)
def flatten_layer(b, module, x):
    return b.emit(FLATTEN, [x], start_dim=module.start_dim, end_dim=module.end_dim)


@function_rule(torch.unflatten)
@method_rule("unflatten")
def unflatten(b, x, dim, sizes):
    """A reshape: dims before ``dim`` copied ("same"), ``sizes``, then the dims after
    (which must be static: ONNX copies a dim only at the same index)."""
    dim = checked_dim(b, x, dim)
    after = b.shape(x)[dim + 1:]
    sizes = size_entries(b, (sizes,))
    if not all(isinstance(d, int) for d in [*after, *sizes]):
        raise b.unsupported(f"unflatten of dim {dim} into traced sizes or with a dynamic dim after it")
    return emit_reshape(b, x, ["same"] * dim + sizes + list(after))


@module_rule(nn.Unflatten)
def unflatten_layer(b, module, x):
    return unflatten(b, x, module.dim, module.unflattened_size)


# ------------------------------------------------------------------ permutations
@function_rule(torch.permute)
@method_rule("permute")
def permute(b, x, *dims):
    return b.emit(TRANSPOSE, [x], perm=[checked_dim(b, x, d) for d in _dims(dims)])


@function_rule(torch.transpose, torch.swapaxes, torch.swapdims)
@method_rule("transpose", "transpose_", "swapaxes", "swapdims")
def transpose(b, x, dim0, dim1):
    perm = list(range(b.rank(x)))
    a, c = checked_dim(b, x, dim0), checked_dim(b, x, dim1)
    perm[a], perm[c] = perm[c], perm[a]
    return b.emit(TRANSPOSE, [x], perm=perm)


@function_rule(torch.t)
@method_rule("t", "t_")
def t(b, x):
    """Transposes a 2-d tensor; 0-d and 1-d ones are returned as they are."""
    if b.rank(x) > 2:
        raise b.unsupported(f"x.t() on a {b.rank(x)}-d tensor (torch allows <= 2-d)")
    return b.emit(TRANSPOSE, [x], perm=list(reversed(range(b.rank(x)))))


# ------------------------------------------------------------------ squeeze / unsqueeze
@function_rule(torch.squeeze)
@method_rule("squeeze", "squeeze_")
def squeeze(b, x, dim=None):
    """Removes dims of static size 1. A dynamic dim's size is known only at run time, and
    torch squeezes it when it is 1, so the output rank would depend on the batch: such
    squeezes are refused."""
    shape = b.shape(x)
    dynamic = [d for d in shape if not isinstance(d, int)]
    if dim is None and dynamic:
        raise b.unsupported(
            f"squeeze() of a tensor with a dynamic dim ({dynamic[0]}), which torch would also squeeze "
            f"when it is 1; name the dims (x.squeeze(dim)) or export with a static shape"
        )
    if dim is None:
        dims = [i for i, d in enumerate(shape) if d == 1]
    else:
        dims = [checked_dim(b, x, d) for d in (dim if isinstance(dim, (tuple, list)) else [dim])]
        for d in dims:
            if not isinstance(shape[d], int):
                raise b.unsupported(
                    f"squeeze of dim {d}, whose size ({shape[d]}) is only known at run time; "
                    f"export with a static shape (dynamic_batch=False / --static)"
                )
        dims = [d for d in dims if shape[d] == 1]
    return b.emit(SQUEEZE, [x], dims=dims) if dims else b.emit(IDENTITY, [x])


@function_rule(torch.unsqueeze)
@method_rule("unsqueeze", "unsqueeze_")
def unsqueeze(b, x, dim):
    return b.emit(UNSQUEEZE, [x], dims=[checked_dim(b, x, dim, extra=1)])


# ------------------------------------------------------------------ joining
@function_rule(torch.cat, torch.concat)
def cat(b, tensors, dim=0, *, out=None):
    """torch skips 1-d empty inputs whatever the others' rank (``torch.cat([torch.tensor([]),
    keys], dim=-2)``: transformers' KV cache before its first update)."""
    tensors = [t for t in tensors if b.shape(t) != (0,)] or tensors[:1]
    tensors = promote(b, *tensors)
    return b.emit(CONCAT, tensors, dim=checked_dim(b, tensors[0], dim))


@function_rule(torch.concatenate)
def concatenate(b, tensors, axis=0, *, out=None):
    return cat(b, tensors, axis)


@function_rule(torch.stack)
def stack(b, tensors, dim=0, *, out=None):
    tensors = promote(b, *tensors)
    dim = checked_dim(b, tensors[0], dim, extra=1)
    return b.emit(CONCAT, [b.emit(UNSQUEEZE, [t], dims=[dim]) for t in tensors], dim=dim)


# ------------------------------------------------------------------ splitting
def _split(b, x, dim, sizes):
    outputs = b.emit(SPLIT, [x], num_outputs=len(sizes), dim=dim, sizes=sizes)
    return tuple(outputs) if isinstance(outputs, list) else (outputs,)


@function_rule(torch.split)
@method_rule("split")
def split(b, x, split_size_or_sections, dim=0):
    """torch's own split of a range gives the piece sizes (the last one may be smaller)."""
    dim = checked_dim(b, x, dim)
    if isinstance(split_size_or_sections, (list, tuple)):
        return _split(b, x, dim, list(split_size_or_sections))
    size = static_size(b, x, dim, "split")
    pieces = torch.arange(size).split(split_size_or_sections)
    return _split(b, x, dim, [len(p) for p in pieces])


@function_rule(torch.chunk)
@method_rule("chunk")
def chunk(b, x, chunks, dim=0):
    """Chunks of ceil(n / chunks), so fewer than ``chunks`` may come out, as in torch."""
    dim = checked_dim(b, x, dim)
    pieces = torch.arange(static_size(b, x, dim, "chunk")).chunk(chunks)
    return _split(b, x, dim, [len(p) for p in pieces])


@function_rule(torch.unbind)
@method_rule("unbind")
def unbind(b, x, dim=0):
    dim = checked_dim(b, x, dim)
    pieces = _split(b, x, dim, [1] * static_size(b, x, dim, "unbind"))
    return tuple(b.emit(SQUEEZE, [p], dims=[dim]) for p in pieces)


# ------------------------------------------------------------------ replicating
def emit_expand(b, x, entries):
    """An expand op whose entries are ints (-1 keeps the input dim) or traced sizes."""
    shape = b.shape(x)
    attrs, dynamic = [], []
    for i, entry in enumerate(entries):
        aligned = i - (len(entries) - len(shape))
        if isinstance(entry, Ref) and aligned >= 0 and b.value(entry).known == shape[aligned]:
            entry = -1  # x.expand(y.size(0), ...) where both are the batch
        if isinstance(entry, Ref):
            attrs.append(None)
            dynamic.append(entry)
        else:
            attrs.append(entry)
    return b.emit(EXPAND, [x, *dynamic], shape=attrs)


@method_rule("expand")
def expand(b, x, *sizes):
    return emit_expand(b, x, size_entries(b, sizes))


@method_rule("expand_as")
def expand_as(b, x, other):
    return emit_expand(b, x, shape_of(b, other))


@method_rule("repeat")
def repeat(b, x, *repeats):
    """Counts traced at run time (``x.repeat(batch, 1)``) are int64 inputs of the op; where
    every repeated dim has size 1 (Whisper's position ids) repeating is broadcasting: an expand."""
    repeats = size_entries(b, repeats)
    if all(isinstance(r, int) for r in repeats):
        return b.emit(REPEAT, [x], repeats=repeats)
    if _repeats_only_ones(b, x, repeats):
        return _repeat_as_expand(b, x, repeats)
    counts = [r for r in repeats if isinstance(r, Ref)]
    return b.emit(REPEAT, [x, *counts], repeats=[r if isinstance(r, int) else None for r in repeats])


def _repeats_only_ones(b, x, repeats) -> bool:
    """Whether every dim repeated (count not the int 1) has size 1 or is new."""
    shape = b.shape(x)
    new = len(repeats) - len(shape)
    padded = (1,) * max(new, 0) + tuple(shape)
    return new >= 0 and all((isinstance(r, int) and r == 1) or size == 1 for r, size in zip(repeats, padded))


def _repeat_as_expand(b, x, repeats):
    new = len(repeats) - b.rank(x)
    return emit_expand(b, x, [(1 if i < new else -1) if isinstance(r, int) and r == 1 else r
                              for i, r in enumerate(repeats)])


@function_rule(torch.tile)
@method_rule("tile")
def tile(b, x, dims):
    """torch.tile pads the repeats with leading 1s up to the rank, then repeats."""
    return repeat(b, x, [1] * (b.rank(x) - len(dims)) + list(dims))


@function_rule(torch.flip)
@method_rule("flip")
def flip(b, x, *dims):
    return b.emit(FLIP, [x], dims=sorted({checked_dim(b, x, d) for d in _dims(dims)}))


@function_rule(torch.roll)
@method_rule("roll")
def roll(b, x, shifts, dims=None):
    """Each (shift, dim) is the tail slice concatenated before the head slice."""
    if dims is None:
        raise b.unsupported("roll without dims (a roll of the flattened tensor)")
    shifts, dims = _dims((shifts,)), _dims((dims,))
    for shift, dim in zip(shifts, dims):
        dim = checked_dim(b, x, dim)
        size = static_size(b, x, dim, "roll")
        cut = size - shift % size
        if cut == size:
            continue
        tail = b.emit(SLICE, [x], dims=[dim], starts=[cut], ends=[INT64_MAX], steps=[1])
        head = b.emit(SLICE, [x], dims=[dim], starts=[0], ends=[cut], steps=[1])
        x = b.emit(CONCAT, [tail, head], dim=dim)
    return x


# ------------------------------------------------------------------ new tensors shaped like one
def _full_like(b, x, fill_value, dtype):
    if isinstance(fill_value, Ref):
        raise b.unsupported("a fill value computed in the graph")
    dtype = dtype_name(dtype) if dtype is not None else b.dtype(x)
    return b.emit(FULL_LIKE, [x], value=fill_value, dtype=dtype)


@function_rule(torch.zeros_like)
def zeros_like(b, x, *, dtype=None, **layout_device_and_flags):
    return _full_like(b, x, 0, dtype)


@function_rule(torch.ones_like)
def ones_like(b, x, *, dtype=None, **layout_device_and_flags):
    return _full_like(b, x, 1, dtype)


@function_rule(torch.empty_like)
def empty_like(b, x, *, dtype=None, **layout_device_and_flags):
    """Never read before it is written: zeros are as good."""
    return _full_like(b, x, 0, dtype)


@method_rule("fill_")
def fill_(b, x, value):
    """``x.fill_(v)``: x's shape and dtype, all v (the replay rebinds x)."""
    return _full_like(b, x, value, None)


@method_rule("zero_")
def zero_(b, x):
    return _full_like(b, x, 0, None)


@function_rule(torch.full_like)
def full_like(b, x, fill_value, *, dtype=None, **layout_device_and_flags):
    return _full_like(b, x, fill_value, dtype)


def filled(b, sizes, fill_value, dtype: str):
    """A tensor of ``sizes`` (ints or traced sizes: ``torch.ones(t, t)``) holding one value:
    a constant when every size is an int, else a scalar constant expanded to the sizes."""
    if isinstance(fill_value, Ref):
        raise b.unsupported("a fill value computed in the graph")
    sizes = size_entries(b, (sizes,))
    if all(isinstance(s, int) for s in sizes):
        return b.constant(torch.full(sizes, fill_value, dtype=torch_dtype(dtype)))
    return emit_expand(b, b.constant(fill_value, dtype=dtype), sizes)


def _new_constant(b, x, size, fill_value, dtype):
    """x.new_zeros(2, 3) and friends: filled, in x's dtype unless told otherwise."""
    return filled(b, size_entries(b, size), fill_value, dtype_name(dtype) if dtype else b.dtype(x))


@method_rule("new_zeros")
def new_zeros(b, x, *size, dtype=None, **layout_device_and_flags):
    return _new_constant(b, x, size, 0, dtype)


@method_rule("new_ones")
def new_ones(b, x, *size, dtype=None, **layout_device_and_flags):
    return _new_constant(b, x, size, 1, dtype)


@method_rule("new_empty")
def new_empty(b, x, *size, dtype=None, **layout_device_and_flags):
    """Never read before it is written: zeros are as good."""
    return _new_constant(b, x, size, 0, dtype)


@method_rule("new_full")
def new_full(b, x, size, fill_value, *, dtype=None, **layout_device_and_flags):
    return _new_constant(b, x, (size,), fill_value, dtype)
