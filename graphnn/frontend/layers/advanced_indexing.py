"""Indexing by several integer tensors at once: ``mask[batch_idx, kv_idx]``.

Transformers build their padding masks this way (``padding_mask[batch_idx, kv_idx]`` with
``batch_idx`` shaped (batch, 1, 1, 1) and ``kv_idx`` (1, 1, 1, seq)): torch broadcasts
the index tensors against each other and the result has their broadcast shape in place of
the indexed dims. ``index_by_tensors`` emits that as one ``index_tensors`` op (ONNX
GatherND); ``x[...]`` reaches it through the indexing family's ``index_tensor`` when an
index expression holds more than one tensor in adjacent dims.

``put_by_tensors`` is the write: ``x[idx] = v`` (transformers' MoE layers invert their
sort permutation with ``inv_perm[perm] = arange``), one ``index_put`` op (ONNX ScatterND).
"""
from graphnn.frontend.layers.elementwise import cast
from graphnn.frontend.rules import Ref
from graphnn.ops.advanced_indexing import INDEX_PUT, INDEX_TENSORS


def index_by_tensors(b, x, dim: int, indices: list):
    """``x[(slice(None),) * dim + tuple(indices)]`` for int64/int32 index tensors."""
    if dim + len(indices) > b.rank(x):
        raise b.shape_error(f"has {dim + len(indices)} indices for a {b.rank(x)}-d tensor")
    for index in indices:
        if b.dtype(index) not in ("int64", "int32"):
            raise b.unsupported(f"indexing with a {b.dtype(index)} tensor next to other tensor indices")
    return b.emit(INDEX_TENSORS, [x, *(cast(b, i, "int64") for i in indices)], dim=dim)


def put_by_tensors(b, x, indices: list, values):
    """``x[tuple(indices)] = values`` for int64/int32 index tensors at x's leading dims; a
    repeated index keeps one of its values, which torch leaves unspecified too."""
    if len(indices) > b.rank(x):
        raise b.shape_error(f"has {len(indices)} indices for a {b.rank(x)}-d tensor")
    for index in indices:
        if b.dtype(index) not in ("int64", "int32"):
            raise b.unsupported(f"assigning through a {b.dtype(index)} tensor index next to other tensor indices")
    values = cast(b, values, b.dtype(x)) if isinstance(values, Ref) else b.constant(values, dtype=b.dtype(x))
    return b.emit(INDEX_PUT, [x, values, *(cast(b, i, "int64") for i in indices)])
