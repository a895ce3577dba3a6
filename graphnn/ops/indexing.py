"""Shape rules for indexing: ``slice`` (per-dim start / end / step, None entries read
from int64 inputs, starts first), ``index_select`` (ONNX Gather: the index's dims
replace the indexed dim) and ``gather`` (torch.gather / ONNX GatherElements)."""
from graphnn.ops.dims import fmt, normalize_axis
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule

INDEX_DTYPES = ("int64", "int32")
INT64_MAX = 2**63 - 1  # an end meaning "to the end"


@shape_rule("slice")
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
    if step != 1 or not isinstance(start, int) or not isinstance(end, int) or start < 0 or 0 <= end < INT64_MAX:
        return fresh
    dropped = start - (end if end < 0 else 0)
    return f"{size}-{dropped}" if dropped else size


@shape_rule("index_select")
def index_select(node, x, index):
    dim = normalize_axis(node.attrs["dim"], len(x.shape))
    if index.dtype not in INDEX_DTYPES:
        raise ShapeMismatch(f"expects an int64 index tensor, gets {index.dtype}")
    size = x.shape[dim]
    if isinstance(index.known, int) and isinstance(size, int) and not -size <= index.known < size:
        raise ShapeMismatch(f"has index {index.known}, out of range for dim {dim} of size {size}")
    return TensorType(x.shape[:dim] + index.shape + x.shape[dim + 1:], x.dtype)


@shape_rule("gather")
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
