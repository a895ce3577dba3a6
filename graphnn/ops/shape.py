"""Shape rules for ops that rearrange or replicate elements: reshape, flatten, transpose,
squeeze / unsqueeze, concat, split (one output per piece), expand, repeat, flip, and
``full_like`` (a filled tensor shaped like its input).

``reshape`` attrs.shape holds one entry per output dim: an int (torch semantics, -1
inferred), ``None`` (read from the next int64 scalar input, e.g. ``x.size(0)``), or
``"same"`` (copy the input dim at the same index; ONNX Reshape's 0).
"""
import sympy

from graphnn.ops.dims import fmt, normalize_axis, product, product_dim, same
from graphnn.ops.elementwise import dim_expression, expression
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def reshape(node, x, *dynamic):
    dims = _target_dims(node, x, iter(dynamic))
    symbolic = _symbolic_reshape(x.shape, dims)
    if symbolic is not None:
        return TensorType(symbolic, x.dtype)
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


def _symbolic_reshape(have, dims):
    """Reshapes of dynamic dims checked with algebra: ``(b, 2, seq, 4)`` to ``(b, 2*seq, 4)``
    (derived dims, as torch.export hands them over), and a -1 becomes the product it stands
    for (``x.view(-1, C)`` of ``(batch, seq, C)`` is ``(batch*seq, C)``, so viewing it back
    to ``(batch, seq, C)`` checks). None when every dim is an int (the plain rules below
    give exact messages) or the algebra does not decide."""
    if not any(isinstance(d, str) for d in (*have, *dims)):
        return None
    terms = [expression(d) for d in (*have, *dims) if d != -1]
    if any(t is None for t in terms) or dims.count(-1) > 1:
        return None
    total = sympy.Mul(*terms[:len(have)])
    known = sympy.Mul(*terms[len(have):])
    if -1 in dims:
        rest = sympy.simplify(total / known)
        if not (rest.is_Integer or rest.is_polynomial()) or (rest.is_Integer and rest <= 0):
            return None
        value = int(rest) if rest.is_Integer else dim_expression(rest)
        dims = [value if d == -1 else d for d in dims]
    elif sympy.simplify(total - known) != 0:
        return None
    return tuple(dims)


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


def flatten(node, x):
    rank = len(x.shape)
    if rank == 0:
        return TensorType((1,), x.dtype)
    start = normalize_axis(node.attrs["start_dim"], rank, "start_dim")
    end = normalize_axis(node.attrs["end_dim"], rank, "end_dim")
    if start > end:
        raise ShapeMismatch(f"has start_dim {start} after end_dim {end}")
    merged = _product(x.shape[start:end + 1], f"{node.name}_d{start}")
    return TensorType(x.shape[:start] + (merged,) + x.shape[end + 1:], x.dtype)


def _product(dims, fresh):
    """The product of dims as one dim: an int, a symbol, an expression (``batch*seq``), or
    ``fresh`` when a dim is no expression."""
    terms = [expression(d) for d in dims]
    if any(t is None for t in terms):
        return product_dim(dims, fresh)
    total = sympy.Mul(*terms)
    return int(total) if total.is_Integer else dim_expression(total)


def transpose(node, x):
    perm = node.attrs["perm"]
    if sorted(perm) != list(range(len(x.shape))):
        raise ShapeMismatch(f"has permutation {perm}, not one of the {len(x.shape)} dims of {fmt(x.shape)}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


def squeeze(node, x):
    dims = {normalize_axis(d, len(x.shape)) for d in node.attrs["dims"]}
    for d in sorted(dims):
        if x.shape[d] != 1:
            raise ShapeMismatch(f"squeezes dim {d} of {fmt(x.shape)}, whose size is not 1")
    return TensorType(tuple(s for i, s in enumerate(x.shape) if i not in dims), x.dtype, x.known)


def unsqueeze(node, x):
    """``dims`` are positions in the output, as ONNX Unsqueeze's axes."""
    rank = len(x.shape) + len(node.attrs["dims"])
    dims = {normalize_axis(d, rank) for d in node.attrs["dims"]}
    rest = iter(x.shape)
    return TensorType(tuple(1 if i in dims else next(rest) for i in range(rank)), x.dtype, x.known)


def concat(node, *xs):
    first = xs[0]
    dim = normalize_axis(node.attrs["dim"], len(first.shape))
    for i, x in enumerate(xs[1:], 2):
        if x.dtype != first.dtype:
            raise ShapeMismatch(f"joins {first.dtype} with {x.dtype} (graphnn should have cast them)")
        if len(x.shape) != len(first.shape) or any(
                not same(a, b) for j, (a, b) in enumerate(zip(x.shape, first.shape)) if j != dim):
            raise ShapeMismatch(
                f"joins tensors along dim {dim} whose other dims must match: "
                f"input 1 is {fmt(first.shape)}, input {i} is {fmt(x.shape)}"
            )
    joined = _sum_dim([x.shape[dim] for x in xs], f"{node.name}_d{dim}")
    return TensorType(first.shape[:dim] + (joined,) + first.shape[dim + 1:], first.dtype)


def _sum_dim(dims, fresh):
    """The sum of dims: an int when all are ints, their sum when each is an expression
    (``past_sequence_length+sequence_length``: a KV cache grown by the new tokens, as
    torch.export names it), else ``fresh``."""
    if all(isinstance(d, int) for d in dims):
        return sum(dims)
    terms = [expression(d) for d in dims]
    return fresh if any(t is None for t in terms) else dim_expression(sum(terms))


def split(node, x):
    dim = normalize_axis(node.attrs["dim"], len(x.shape))
    sizes = node.attrs["sizes"]
    if not isinstance(x.shape[dim], int):
        raise ShapeMismatch(f"splits dim {dim} of {fmt(x.shape)}, whose size is dynamic, into fixed pieces {sizes}")
    if sum(sizes) != x.shape[dim]:
        raise ShapeMismatch(f"splits dim {dim} of {fmt(x.shape)} into pieces {sizes}, which do not add up")
    return [TensorType(x.shape[:dim] + (s,) + x.shape[dim + 1:], x.dtype) for s in sizes]


def expand(node, x, *dynamic):
    """``shape`` entries: an int (-1 keeps the input dim) or None (the next int64 input)."""
    entries, dynamic = node.attrs["shape"], iter(dynamic)
    if len(entries) < len(x.shape):
        raise ShapeMismatch(f"expands {fmt(x.shape)} to {len(entries)} dims, fewer than it has")
    padded = (None,) * (len(entries) - len(x.shape)) + tuple(x.shape)
    out = []
    for i, (have, want) in enumerate(zip(padded, entries)):
        if want is None:
            value = next(dynamic)
            want = value.known if value.known is not None else f"{node.name}_d{i}"
        if want == -1 and have is None:
            raise ShapeMismatch(f"expands to -1 at new leading dim {i}")
        out.append(_expanded(x, have, want, entries))
    return TensorType(tuple(out), x.dtype)


def _expanded(x, have, want, entries):
    if want == -1 or want == have:
        return have
    if have is None or have == 1:
        return want
    raise ShapeMismatch(f"expands {fmt(x.shape)} to {fmt(entries)}: only dims of size 1 can grow, "
                        f"and a dynamic dim needs -1")


def repeat(node, x, *dynamic):
    """``repeats`` entries: an int, or None (the next int64 input: a count traced at run time)."""
    counts = iter(dynamic)
    repeats = [r if r is not None else _traced_count(next(counts), node, i)
               for i, r in enumerate(node.attrs["repeats"])]
    if len(repeats) < len(x.shape):
        raise ShapeMismatch(f"has {len(repeats)} repeat counts for a {len(x.shape)}-d input")
    padded = (1,) * (len(repeats) - len(x.shape)) + tuple(x.shape)
    return TensorType(tuple(_product([d, r], f"{node.name}_d{i}") if r != 1 else d
                            for i, (d, r) in enumerate(zip(padded, repeats))), x.dtype)


def _traced_count(value, node, i: int):
    return value.known if value.known is not None else f"{node.name}_r{i}"


def flip(node, x):
    for d in node.attrs["dims"]:
        normalize_axis(d, len(x.shape))
    return TensorType(x.shape, x.dtype)


def full_like(node, x):
    return TensorType(x.shape, node.attrs["dtype"])


RESHAPE = define("reshape", shape=reshape, macs=NO_MACS)
FLATTEN = define("flatten", shape=flatten, macs=NO_MACS)
TRANSPOSE = define("transpose", shape=transpose, macs=NO_MACS)
SQUEEZE = define("squeeze", shape=squeeze, macs=NO_MACS)
UNSQUEEZE = define("unsqueeze", shape=unsqueeze, macs=NO_MACS)
CONCAT = define("concat", shape=concat, macs=NO_MACS)
SPLIT = define("split", shape=split, macs=NO_MACS)
EXPAND = define("expand", shape=expand, macs=NO_MACS)
REPEAT = define("repeat", shape=repeat, macs=NO_MACS)
FLIP = define("flip", shape=flip, macs=NO_MACS)
FULL_LIKE = define("full_like", shape=full_like, macs=NO_MACS)
