"""Shape rules for ops that only rearrange elements: ``reshape`` and ``flatten``.

``reshape`` attrs.shape holds one entry per output dim: an int (torch semantics, -1
inferred), ``None`` (read from the next int64 scalar input, e.g. ``x.size(0)``), or
``"same"`` (copy the input dim at the same index; ONNX Reshape's 0).
"""
from graphnn.ops.dims import fmt, normalize_axis, product, product_dim
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule


@shape_rule("reshape")
def reshape(node, x, *dynamic):
    dims = _target_dims(node, x, iter(dynamic))
    have_coef, have_syms = product(x.shape)
    known = [d for d in dims if d != -1]
    want_coef, want_syms = product(known)
    if dims.count(-1) > 1:
        raise ShapeMismatch("has more than one -1 in its target shape")
    if -1 in dims:
        dims[dims.index(-1)] = _infer_minus_one(node, x, dims, have_coef, have_syms, want_coef, want_syms)
    elif (have_coef, have_syms) != (want_coef, want_syms) and not (have_syms or want_syms):
        raise ShapeMismatch(f"cannot reshape {fmt(x.shape)} ({have_coef} elements) to {fmt(dims)}")
    elif (have_coef, have_syms) != (want_coef, want_syms):
        raise ShapeMismatch(
            f"reshapes {fmt(x.shape)} to {fmt(dims)}, which fixes a dynamic dim; "
            f"use -1 / x.size(0) in the model, or export with --static"
        )
    return TensorType(tuple(dims), x.dtype)


def _target_dims(node, x, dynamic) -> list:
    dims = []
    for i, entry in enumerate(node.attrs["shape"]):
        if entry == "same":
            dims.append(x.shape[i])
        elif entry is None:
            value = next(dynamic)
            dims.append(value.known if value.known is not None else f"{node.name}_d{i}")
        else:
            dims.append(entry)
    return dims


def _infer_minus_one(node, x, dims, have_coef, have_syms, want_coef, want_syms):
    at = dims.index(-1)
    if want_syms - have_syms or (want_coef and have_coef % want_coef):
        if not (have_syms or want_syms):
            raise ShapeMismatch(f"cannot reshape {fmt(x.shape)} ({have_coef} elements) to {fmt(dims)}")
        return f"{node.name}_d{at}"
    rest = have_syms - want_syms
    coef = have_coef // want_coef if want_coef else 0
    return product_dim([coef, *rest.elements()], f"{node.name}_d{at}")


@shape_rule("flatten")
def flatten(node, x):
    rank = len(x.shape)
    if rank == 0:
        return TensorType((1,), x.dtype)
    start = normalize_axis(node.attrs["start_dim"], rank, "start_dim")
    end = normalize_axis(node.attrs["end_dim"], rank, "end_dim")
    if start > end:
        raise ShapeMismatch(f"has start_dim {start} after end_dim {end}")
    merged = product_dim(x.shape[start:end + 1], f"{node.name}_d{start}")
    return TensorType(x.shape[:start] + (merged,) + x.shape[end + 1:], x.dtype)
