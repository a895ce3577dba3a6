"""Shape rules for lookup tables: ``embedding`` (indices -> indices' shape + (dim,)) and
``embedding_bag`` (one row per bag: a 2-d input's rows, or a 1-d input cut at its
offsets, the last offset closing the last bag when ``include_last_offset``)."""
from graphnn.ops.dims import dims_label, fmt
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType
from graphnn.tensors import dtype_name

INDEX_DTYPES = ("int64", "int32")


def _check_indices(indices, what="indices"):
    if indices.dtype not in INDEX_DTYPES:
        raise ShapeMismatch(f"expects int64 {what}, gets {indices.dtype}")


def embedding(node, indices):
    _check_indices(indices)
    weight = node.params["weight"]
    return TensorType(indices.shape + (weight.shape[1],), dtype_name(weight.dtype))


def embedding_bag(node, indices, *rest):
    _check_indices(indices)
    weight = node.params["weight"]
    rest = list(rest)
    offsets = rest.pop(0) if node.attrs["offsets"] else None
    per_sample_weights = rest.pop(0) if node.attrs["per_sample_weights"] else None
    if per_sample_weights is not None and per_sample_weights.shape != indices.shape:
        raise ShapeMismatch(f"expects per_sample_weights shaped like the input {fmt(indices.shape)}, "
                            f"gets {fmt(per_sample_weights.shape)}")
    if offsets is None:
        if len(indices.shape) != 2:
            raise ShapeMismatch(f"expects a 2-d input (one bag per row) without offsets, gets {fmt(indices.shape)}")
        bags = indices.shape[0]
    else:
        _check_indices(offsets, "offsets")
        if len(indices.shape) != 1 or len(offsets.shape) != 1:
            raise ShapeMismatch(f"expects a 1-d input and 1-d offsets, gets {fmt(indices.shape)} and "
                                f"{fmt(offsets.shape)}")
        bags = _minus_one(offsets.shape[0]) if node.attrs["include_last_offset"] else offsets.shape[0]
    return TensorType((bags, weight.shape[1]), dtype_name(weight.dtype))


def _minus_one(size):
    """One bag fewer than offsets: the last offset only closes the last bag."""
    if isinstance(size, int):
        if size < 1:
            raise ShapeMismatch("expects at least one offset with include_last_offset=True")
        return size - 1
    return f"{size}-1"


def embedding_label(attrs, weights):
    weight = weights.get("weight", (0, 0))
    return {"table": f"{weight[0]} x {weight[1]}"}


EMBEDDING = define("embedding", shape=embedding, macs=NO_MACS, label=embedding_label)
EMBEDDING_BAG = define("embedding_bag", shape=embedding_bag, macs=NO_MACS, label=embedding_label)
