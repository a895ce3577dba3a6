"""Shape rules for dense layers and products: ``linear`` (y = x W^T + b), ``bilinear``
(y = x1^T W x2 + b), ``matmul`` and ``einsum`` (equation always has an explicit ``->``)."""
import math

from graphnn.ops.dims import broadcast, fmt, same
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def linear(node, x):
    weight = node.params["weight"]
    in_features = weight.shape[-1]
    if not x.shape:
        raise ShapeMismatch(f"expects an input with {in_features} features, gets a scalar")
    if x.shape[-1] != in_features:
        raise ShapeMismatch(f"expects {in_features} input features, gets {x.shape[-1]}")
    return TensorType(x.shape[:-1] + tuple(weight.shape[:-1]), x.dtype)


def bilinear(node, x1, x2):
    out_features, in1, in2 = node.params["weight"].shape
    for i, (x, features) in enumerate([(x1, in1), (x2, in2)], 1):
        if not x.shape or x.shape[-1] != features:
            raise ShapeMismatch(f"expects input {i} with {features} features, gets {fmt(x.shape)}")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeMismatch(f"expects inputs with the same leading dims, gets {fmt(x1.shape)} and {fmt(x2.shape)}")
    return TensorType(x1.shape[:-1] + (out_features,), x1.dtype)


def matmul(node, a, b):
    if not a.shape or not b.shape:
        raise ShapeMismatch("expects tensors of rank >= 1, gets a scalar")
    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    if not same(a_shape[-1], b_shape[-2]):
        raise ShapeMismatch(
            f"multiplies {fmt(a.shape)} by {fmt(b.shape)}: inner dims {a_shape[-1]} and {b_shape[-2]} differ"
        )
    batch = broadcast(a_shape[:-2], b_shape[:-2])
    out = batch + a_shape[-2:-1] + b_shape[-1:]
    if len(a.shape) == 1:
        out = out[:-2] + out[-1:]
    if len(b.shape) == 1:
        out = out[:-1]
    if a.dtype != b.dtype:
        raise ShapeMismatch(f"multiplies {a.dtype} by {b.dtype}")
    return TensorType(out, a.dtype)


def einsum(node, *operands):
    inputs, output = node.attrs["equation"].split("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ShapeMismatch(f"has {len(terms)} operands in {node.attrs['equation']!r}, gets {len(operands)}")
    sizes, ellipsis = {}, ()
    for term, value in zip(terms, operands):
        labelled, covered = _label(term, value.shape)
        ellipsis = broadcast(ellipsis, covered)
        for label, dim in labelled:
            sizes[label] = _join(label, sizes.get(label, 1), dim)
    missing = sorted(set(output) - set(sizes) - {"."})
    if missing:
        raise ShapeMismatch(f"has output subscripts {''.join(missing)} that no operand has")
    before, _, after = output.partition("...")
    shape = [sizes[c] for c in before] + (list(ellipsis) if "..." in output else []) + [sizes[c] for c in after]
    return TensorType(tuple(shape), operands[0].dtype)


def _label(term, shape):
    """([(letter, dim)...], dims the ellipsis covers) of one operand."""
    before, dots, after = term.partition("...")
    rank = len(shape)
    if len(before) + len(after) > rank or (not dots and len(before) != rank):
        raise ShapeMismatch(f"has subscripts {term!r} for a {rank}-d operand")
    end = rank - len(after)
    labelled = list(zip(before, shape)) + list(zip(after, shape[end:]))
    return labelled, tuple(shape[len(before):end]) if dots else ()


def _join(label, a, b):
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    raise ShapeMismatch(f"has subscript {label!r} of sizes {a} and {b}")


def linear_macs(ins, outs, params):
    return math.prod(outs[0]) * params["weight"][-1]


def linear_label(attrs, weights):
    weight = weights.get("weight", (0, 0))
    return {"features": f"{weight[-1]} -> {weight[0]}"}


def matmul_macs(ins, outs, params):
    return math.prod(outs[0]) * ins[0][-1]


def bilinear_macs(ins, outs, params):
    weight = params["weight"]  # [out, in1, in2]
    return math.prod(outs[0]) * weight[1] * weight[2]


def bilinear_label(attrs, weights):
    weight = weights.get("weight", (0, 0, 0))
    return {"features": f"{weight[1]}, {weight[2]} -> {weight[0]}"}


LINEAR = define("linear", shape=linear, macs=linear_macs, label=linear_label)
BILINEAR = define("bilinear", shape=bilinear, macs=bilinear_macs, label=bilinear_label)
MATMUL = define("matmul", shape=matmul, macs=matmul_macs)
EINSUM = define("einsum", shape=einsum, macs=NO_MACS)
