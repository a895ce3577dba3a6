"""Shape rules for indexing: ``slice`` (per-dim start / end / step, None entries read
from int64 inputs, starts first), ``index_select`` (ONNX Gather: the index's dims
replace the indexed dim), ``gather`` (torch.gather / ONNX GatherElements), its inverse
``scatter`` (torch.scatter / ONNX ScatterElements) and ``slice_scatter`` (the input with one
slice replaced: slice assignment)."""
from graphnn.ops.dims import difference, fmt, normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType

INDEX_DTYPES = ("int64", "int32")
INT64_MAX = 2**63 - 1  # an end meaning "to the end"


def slice_(node, x, *dynamic):
    dynamic = iter(dynamic)
    starts = [_entry(s, dynamic) for s in node.attrs["starts"]]
    ends = [_entry(e, dynamic) for e in node.attrs["ends"]]
    shape = list(x.shape)
    for dim, start, end, step in zip(node.attrs["dims"], starts, ends, node.attrs["steps"]):
        dim = normalize_axis(dim, len(x.shape))
        if step <= 0:
            raise ShapeMismatch(f"has slice step {step}; only positive steps are allowed")
        shape[dim] = _sliced(x.shape[dim], start, end, step, f"{node.name}_d{dim}")
    return TensorType(tuple(shape), x.dtype)


def _entry(entry, dynamic):
    """An int attr entry, or the known value of the next dynamic input (None if unknown)."""
    return entry if entry is not None else next(dynamic).known


def _sliced(size, start, end, step, fresh):
    """The sliced length: exact for static sizes (Python's clamping, as torch). On a
    dynamic size n, a unit-step slice that drops k elements is the symbol ``n-k``, so
    ``x[1:]`` and ``x[:-1]`` get the same dim; anything else is a fresh symbol."""
    if isinstance(size, int) and isinstance(start, int) and isinstance(end, int):
        return len(range(*slice(start, end, step).indices(size)))
    if end == size:
        end = INT64_MAX
    if isinstance(size, int) and start == 0 and step == 1 and isinstance(end, str):
        return end  # self.pos[:x.size(1)]: torch guards that the traced size fits
    if isinstance(start, str) and step == 1 and end == INT64_MAX:
        rest = difference(size, start)  # mask[:, past:]: the new tokens' positions
        return fresh if rest is None else rest
    if step != 1 or not isinstance(start, int) or not isinstance(end, int) or start < 0 or 0 <= end < INT64_MAX:
        return fresh
    dropped = start - (end if end < 0 else 0)
    return f"{size}-{dropped}" if dropped else size


def index_select(node, x, index):
    dim = normalize_axis(node.attrs["dim"], len(x.shape))
    if index.dtype not in INDEX_DTYPES:
        raise ShapeMismatch(f"expects an int64 index tensor, gets {index.dtype}")
    size = x.shape[dim]
    if isinstance(index.known, int) and isinstance(size, int) and not -size <= index.known < size:
        raise ShapeMismatch(f"has index {index.known}, out of range for dim {dim} of size {size}")
    return TensorType(x.shape[:dim] + index.shape + x.shape[dim + 1:], x.dtype)


def gather(node, x, index):
    dim = normalize_axis(node.attrs["dim"], len(x.shape))
    if index.dtype not in INDEX_DTYPES:
        raise ShapeMismatch(f"expects an int64 index tensor, gets {index.dtype}")
    if len(index.shape) != len(x.shape):
        raise ShapeMismatch(f"expects an index of the input's rank {len(x.shape)}, gets {fmt(index.shape)}")
    for d, (have, want) in enumerate(zip(x.shape, index.shape)):
        if d != dim and isinstance(have, int) and isinstance(want, int) and want > have:
            raise ShapeMismatch(f"has index {fmt(index.shape)} larger than input {fmt(x.shape)} in dim {d}")
    return TensorType(index.shape, x.dtype)


def scatter(node, x, index, src):
    """x with x[index[i][j]][j] = src[i][j] (along ``dim``); src has the index's shape."""
    if src.dtype != x.dtype:
        raise ShapeMismatch(f"expects src of dtype {x.dtype}, gets {src.dtype} (graphnn should have cast it)")
    if tuple(src.shape) != tuple(index.shape):
        raise ShapeMismatch(f"expects src of the index's shape {fmt(index.shape)}, gets {fmt(src.shape)}")
    gather(node, x, index)
    return TensorType(x.shape, x.dtype)


def slice_scatter(node, x, src, *dynamic):
    """attrs dim / start / end (None: the next int64 input); src must be the slice's shape."""
    dim = normalize_axis(node.attrs["dim"], len(x.shape))
    if src.dtype != x.dtype:
        raise ShapeMismatch(f"writes {src.dtype} into {x.dtype} (graphnn should have cast it)")
    dynamic = iter(dynamic)
    start, end = (_entry(v, dynamic) for v in (node.attrs["start"], node.attrs["end"]))
    want = list(x.shape)
    want[dim] = _sliced(x.shape[dim], start, end, 1, src.shape[dim] if len(src.shape) > dim else None)
    if len(src.shape) != len(x.shape) or any(
            isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(src.shape, want)):
        raise ShapeMismatch(f"writes a {fmt(src.shape)} tensor into a {fmt(tuple(want))} slice of {fmt(x.shape)}")
    return TensorType(x.shape, x.dtype)


SLICE = define("slice", shape=slice_, macs=NO_MACS)
INDEX_SELECT = define("index_select", shape=index_select, macs=NO_MACS)
GATHER = define("gather", shape=gather, macs=NO_MACS)
SCATTER = define("scatter", shape=scatter, macs=NO_MACS)
SLICE_SCATTER = define("slice_scatter", shape=slice_scatter, macs=NO_MACS)
