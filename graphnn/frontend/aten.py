"""ATen ops (what torch.export records) -> the rules written for torch functions.

torch.export's default IR keeps ATen ops that match torch functions one to one
(``aten.linear`` is ``F.linear``, ``aten.conv2d`` is ``F.conv2d``), so most need no
table at all: an op ``aten.<name>`` uses the rule of ``F.<name>``, else
``torch.<name>``, else the tensor method ``.<name>()``, looked up when the op is met,
so rules other families add later apply at once. ``ADAPTERS`` holds the few ops whose
ATen signature differs from the torch function's (``aten.embedding(weight, indices)``
vs ``F.embedding(indices, weight)``) or that only ATen has (``sym_size``, ``slice``,
``copy_``). An in-place op (``add_``) uses its functional rule; the export frontend
rebinds the mutated tensor, and a write into a view (``z[:, :4] = 0``) is scattered
back into its base with ``scatter_back``.
"""
from __future__ import annotations

import inspect
import operator
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from graphnn.frontend.layers.advanced_indexing import put_by_tensors
from graphnn.frontend.layers.elementwise import binary, cast, default_float
from graphnn.frontend.layers.indexing import index_tensor
from graphnn.frontend.layers.linear import grouped_mm
from graphnn.frontend.layers.shape import checked_dim, emit_expand, emit_reshape, filled, shape_of, size_entries
from graphnn.frontend.layers.spectral import fft_c2c, fft_c2r, fft_r2c
from graphnn.frontend.rules import Ref, function_label, function_rule_for, method_rule_for
from graphnn.ops.dims import broadcast
from graphnn.ops.elementwise import MAXIMUM, MINIMUM
from graphnn.ops.registry import ShapeMismatch
from graphnn.ops.shape import TRANSPOSE
from graphnn.tensors import dtype_name

Rule = Callable[..., Any]
_aten = torch.ops.aten

# Keyword arguments ATen creation ops carry that say nothing about the computation.
_PLACEMENT = ("layout", "device", "pin_memory", "memory_format", "non_blocking")


def label(target: Any) -> str:
    """``aten.slice.Tensor`` for ATen ops, the user spelling for others (``operator.mul``)."""
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}.{target.overloadpacket.__name__}.{target._overloadname}"
    return function_label(target)


def _name(target: torch._ops.OpOverload) -> str:
    return target.overloadpacket.__name__


def mutates(target: Any) -> bool:
    """Whether the op writes into its first argument (``add_``, ``copy_``, ``fill_``)."""
    if not isinstance(target, torch._ops.OpOverload) or not target._schema.arguments:
        return False
    alias = target._schema.arguments[0].alias_info
    return alias is not None and alias.is_write


def is_view(target: Any) -> bool:
    """Whether the op's result shares its first argument's memory (slice, select, view...)."""
    if not isinstance(target, torch._ops.OpOverload) or mutates(target) or not target._schema.returns:
        return False
    alias = target._schema.returns[0].alias_info
    return alias is not None and not alias.is_write


def rule_for(target: Any) -> Optional[Rule]:
    """The rule converting a call of ``target``: an ATen op or a Python function on sizes."""
    if not isinstance(target, torch._ops.OpOverload):
        return SIZE_FUNCTIONS.get(target) or function_rule_for(target)
    name = _name(target)
    adapter = ADAPTERS.get(f"{name}.{target._overloadname}") or ADAPTERS.get(name)
    if adapter is None and mutates(target) and name.endswith("_"):
        name = name[:-1]  # add_ computes what add does; the frontend rebinds the tensor
        adapter = ADAPTERS.get(f"{name}.{target._overloadname}") or ADAPTERS.get(name)
    if adapter is not None:
        return adapter
    rule = _torch_rule(name)
    return None if rule is None else _bound_by_schema(rule, target)


# ATen names of functions in torch's sub-namespaces: aten.linalg_vector_norm is torch.linalg.vector_norm.
_PREFIXED = {"linalg_": torch.linalg, "special_": torch.special, "fft_": torch.fft}


def _torch_rule(name: str) -> Optional[Rule]:
    """The rule of ``F.<name>``, ``torch.<name>`` (``torch.linalg.<rest>`` for ``linalg_<rest>``)
    or ``Tensor.<name>``, whichever exists."""
    candidates = [(F, name), (torch, name)]
    candidates += [(namespace, name[len(prefix):]) for prefix, namespace in _PREFIXED.items() if name.startswith(prefix)]
    for namespace, attr in candidates:
        function = getattr(namespace, attr, None)
        rule = function_rule_for(function) if function is not None else None
        if rule is not None:
            return rule
    return method_rule_for(name)


def _bound_by_schema(rule: Rule, target: torch._ops.OpOverload) -> Rule:
    """The rule called with an ATen call's arguments: positionally while the schema's
    argument names agree with the rule's parameters, by name from the first argument the
    rule takes under another position (``aten.mse_loss(self, target, reduction)`` against
    ``F.mse_loss(input, target, size_average, reduce, reduction)``); ATen's int reductions
    become torch's strings."""
    schema = [a.name for a in target._schema.arguments]
    try:
        signature = inspect.signature(rule)
    except (TypeError, ValueError):
        signature = None
    params = list(signature.parameters.values())[1:] if signature else []  # after the builder
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    def call(b, *args, **kwargs):
        args = [_REDUCTIONS[v] if i < len(schema) and schema[i] == "reduction" and isinstance(v, int) else v
                for i, v in enumerate(args)]
        positional, named = [], {k: v for k, v in kwargs.items() if k not in _PLACEMENT}
        by_name = False
        for i, value in enumerate(args):
            param = params[i] if i < len(params) else None
            name = schema[i] if i < len(schema) else None
            by_name = by_name or (i > 0 and param is not None and param.kind != param.VAR_POSITIONAL
                                  and name != param.name and name in names)
            if by_name:
                if name not in names:
                    raise b.unsupported(f"{label(target)}'s argument {name} (its torch function has no such parameter)")
                named[name] = value
            else:
                positional.append(value)
        if signature is not None:
            try:
                signature.bind(b, *positional, **named)
            except TypeError as exc:
                raise b.unsupported(f"{label(target)} with these arguments ({exc})") from None
        return rule(b, *positional, **named)
    return call


def _via(function: Any, reorder: Callable[..., tuple]) -> Rule:
    """An adapter: ``reorder`` maps the ATen arguments onto ``function``'s (args, kwargs),
    and ``function``'s rule, looked up at call time, converts them."""
    def call(b, *args, **kwargs):
        rule = function_rule_for(function) if not isinstance(function, str) else method_rule_for(function)
        if rule is None:
            raise b.unsupported(f"{function_label(function) if not isinstance(function, str) else '.' + function + '()'}")
        new_args, new_kwargs = reorder(*args, **{k: v for k, v in kwargs.items() if k not in _PLACEMENT})
        return rule(b, *new_args, **new_kwargs)
    return call


# ------------------------------------------------------------------ ATen-only ops
def _size(b, x, dim):
    return method_rule_for("size")(b, x, dim)


def _slice(b, x, dim=0, start=None, end=None, step=1):
    return index_tensor(b, x, (slice(None),) * checked_dim(b, x, dim) + (slice(start, end, step),))


def _index(b, x, indices):
    """``aten.index.Tensor(x, [None, idx])``: ``x[:, idx]``."""
    return index_tensor(b, x, tuple(slice(None) if i is None else i for i in indices))


def _reshape(b, x, size):
    """``aten.view(x, [s0, -1])``: torch hoists sizes to the graph inputs (``sym_size(x_in, 0)``),
    so a size equal to x's own dim at the same index is copied ("same", ONNX's 0) here,
    as fold_shapes does for fx's ``x.view(x.size(0), -1)``."""
    shape = b.shape(x)
    entries = [
        "same" if isinstance(e, Ref) and i < len(shape) and isinstance(shape[i], str) and b.value(e).known == shape[i]
        else e for i, e in enumerate(size_entries(b, (size,)))]
    return emit_reshape(b, x, entries)


def _numel(b, x):
    """``aten.sym_numel``: an int when static, else the product of x's traced sizes."""
    mul = function_rule_for(operator.mul)
    total = 1
    for size in shape_of(b, x):
        total = size * total if isinstance(size, int) and isinstance(total, int) else mul(b, total, size)
    return total


def _passthrough(b, x, *args, **kwargs):
    """``lift_fresh_copy`` of a constant, ``alias``, ``detach``: the same tensor, no node (so a
    constant stays a constant that rules can read)."""
    return x


def _dropped(b, *args, **kwargs):
    """torch's own runtime checks on sizes and metadata (``_assert_scalar``): they hold
    for the traced program, and ONNX has nothing to check them with."""
    return None


def _copy(b, dst, src, non_blocking=False):
    """``dst.copy_(src)``: src in dst's dtype, broadcast where it has fewer dims or dims of 1
    (torch checked the rest fits: a dim of src that is not 1 is dst's, whatever its name)."""
    value = cast(b, src, b.dtype(dst)) if isinstance(src, Ref) else b.constant(src, dtype=b.dtype(dst))
    have, want = b.shape(value), b.shape(dst)
    offset = len(want) - len(have)
    grows = [i for i, dim in enumerate(want) if i < offset or (have[i - offset] == 1 and dim != 1)]
    if not grows:
        return value
    sizes = shape_of(b, dst)
    return emit_expand(b, value, [sizes[i] if i in grows else -1 for i in range(len(want))])


def _fill(b, dst, value):
    return _copy(b, dst, value)


def _zero(b, dst):
    """``x[:n].zero_()`` (Swin v2's qkv bias): a fill with 0."""
    return _copy(b, dst, 0)


def _index_put(b, x, indices, values, accumulate=False):
    """``x[mask] = v`` with one bool mask of x's shape: ``where(mask, v, x)``; ``x[idx] = v``
    with int index tensors at adjacent dims (``x[:, idx] = v``: slices before them; None in
    ``indices``): ScatterND (``put_by_tensors``) on x with those dims moved to the front."""
    leading = next((i for i, index in enumerate(indices) if index is not None), len(indices))
    tensors = list(indices[leading:])
    if accumulate or not tensors or not all(isinstance(i, Ref) for i in tensors):
        raise b.unsupported("assigning through tensor indices (only x[mask] = value with a bool mask, or "
                            "int index tensors at adjacent dims without accumulate, is)")
    if b.dtype(tensors[0]) != "bool" and leading:
        return _put_after_slices(b, x, leading, tensors, values)
    if b.dtype(indices[0]) != "bool":
        return put_by_tensors(b, x, list(indices), values)
    if len(indices) != 1 or b.shape(indices[0]) != b.shape(x):
        raise b.unsupported("x[mask] = value with a mask shaped unlike x")
    return function_rule_for(torch.where)(b, indices[0], values, x)


def _put_after_slices(b, x, leading: int, tensors: list, values):
    """``x[:, :, idx] = v``: the indexed dims moved to the front (x and the values, broadcast
    to the indexed part's shape), put by tensors there, and moved back."""
    rank, count = b.rank(x), len(tensors)
    order = [*range(leading, leading + count), *range(leading), *range(leading + count, rank)]
    back = [order.index(d) for d in range(rank)]
    part = function_rule_for(operator.getitem)(b, x, (slice(None),) * leading + tuple(tensors))  # its shape
    if isinstance(values, Ref):
        values = method_rule_for("expand_as")(b, cast(b, values, b.dtype(x)), part)
    else:
        values = function_rule_for(torch.full_like)(b, part, values)
    index_rank = b.rank(part) - rank + count  # the broadcast indices' dims, where the indexed dims were
    moved = [*range(leading, leading + index_rank), *range(leading), *range(leading + index_rank, b.rank(part))]
    permute = function_rule_for(torch.permute)
    put = put_by_tensors(b, permute(b, x, order), tensors, permute(b, values, moved))
    return permute(b, put, back)


def _creation(function: Any, fill_value: Optional[Any] = None) -> Rule:
    """``aten.ones(size)`` / ``full(size, v)``: the torch function's rule where a family has
    one, else a filled tensor (a constant, expanded to traced sizes)."""
    def call(b, size, *args, dtype=None, **placement):
        value = fill_value if fill_value is not None else args[0]
        rule = function_rule_for(function)
        if rule is not None:
            return rule(b, list(size), *args, dtype=dtype)
        if dtype is None:
            dtype = torch.tensor(value).dtype if fill_value is None else torch.get_default_dtype()
            if dtype == torch.float64:
                dtype = torch.get_default_dtype()
        return filled(b, list(size), value, dtype_name(dtype))
    return call


def _values_only(function: Any) -> Rule:
    """``aten.adaptive_max_pool1d`` returns (values, indices) where the torch function
    returns values unless asked: the indices are not converted (reading them is refused)."""
    def call(b, x, *args):
        return _via(function, lambda *a: (a, {}))(b, x, *args), None
    return call


def _with_indices(function: Any) -> Rule:
    """``aten.max_pool2d_with_indices``: F.max_pool2d(..., return_indices=True)."""
    def call(b, x, *args):
        return function_rule_for(function)(b, x, *args, return_indices=True)
    return call


def _broadcast_tensors(b, tensors):
    """Each tensor expanded to the common shape (a dynamic dim's size read from a tensor that has it)."""
    target = ()
    for t in tensors:
        try:
            target = broadcast(target, b.shape(t))
        except ShapeMismatch as exc:
            raise b.shape_error(str(exc)) from None
    out = []
    for t in tensors:
        if b.shape(t) == target:
            out.append(t)
            continue
        entries = []
        for i, dim in enumerate(target):
            owner = next((u for u in tensors if _dim_at(b, u, i, len(target)) == dim), None)
            entries.append(dim if isinstance(dim, int) else _size(b, owner, i - (len(target) - b.rank(owner))))
        out.append(emit_expand(b, t, entries))
    return out


def _dim_at(b, x, i, rank):
    shape = b.shape(x)
    j = i - (rank - len(shape))
    return shape[j] if j >= 0 else None


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}  # ATen's reduction enum


def _bag(b, weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
         include_last_offset=False, padding_idx=None):
    """(output, offset2bag, bag_size, max_indices): only the output is converted."""
    rule = function_rule_for(F.embedding_bag)
    if rule is None:
        raise b.unsupported("F.embedding_bag")
    out = rule(b, indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq, mode=("sum", "mean", "max")[mode],
               per_sample_weights=per_sample_weights, include_last_offset=include_last_offset,
               padding_idx=padding_idx)  # as the user gave it: F.embedding_bag passes -1 through, meaning row -1
    return out, None, None, None


def _scalar_tensor(b, value, *, dtype=None, **placement):
    return b.constant(value, dtype=dtype_name(dtype) if dtype is not None else default_float())


def _to_copy(b, x, *, dtype=None, **placement):
    return method_rule_for("to")(b, x, dtype=dtype)


def _elu(b, x, alpha=1.0, scale=1.0, input_scale=1.0):
    if scale != 1 or input_scale != 1:
        raise b.unsupported("aten.elu with scale or input_scale other than 1")
    return function_rule_for(F.elu)(b, x, alpha)


def _interpolate(mode: str, antialias: bool = False) -> Rule:
    """``aten.upsample_<mode>.vec(x, output_size[, align_corners], scale_factors)``: F.interpolate."""
    def call(b, x, output_size, *rest):
        align_corners = rest[0] if rest and isinstance(rest[0], bool) else None
        scales = rest[-1] if rest and isinstance(rest[-1], (list, tuple)) else None
        extra = {"antialias": True} if antialias else {}
        return function_rule_for(F.interpolate)(b, x, size=output_size, scale_factor=scales, mode=mode,
                                                align_corners=align_corners, **extra)
    return call


def _as_function(function) -> Rule:
    """An ATen op whose arguments are the torch function's, in order (aten.im2col: F.unfold)."""
    return lambda b, *args: function_rule_for(function)(b, *args)


ADAPTERS: dict[str, Rule] = {
    "im2col": _as_function(F.unfold),
    "unfold": lambda b, *args: method_rule_for("unfold")(b, *args),  # Tensor.unfold, not F.unfold
    "col2im": _as_function(F.fold),
    "sym_size.int": _size,
    "sym_numel": _numel,
    "slice.Tensor": _slice,
    "view": _reshape,
    "reshape": _reshape,
    "index.Tensor": _index,
    "copy": _copy,
    "fill": _fill,
    "zero": _zero,
    "index_put": _index_put,
    "lift_fresh_copy": _passthrough,
    "alias": _passthrough,
    "detach": _passthrough,  # torch.tensor(...) in forward is lift_fresh_copy + detach_ of a constant
    "_assert_tensor_metadata": _dropped,
    "_assert_scalar": _dropped,
    "_assert_async": _dropped,
    "sym_constrain_range": _dropped,
    "sym_constrain_range_for_size": _dropped,
    "scalar_tensor": _scalar_tensor,
    "_to_copy": _to_copy,
    "ones": _creation(torch.ones, 1),
    "zeros": _creation(torch.zeros, 0),
    "empty": _creation(torch.zeros, 0),  # never read before written; zeros are as good
    "empty_permuted": lambda b, size, physical_layout, **kwargs: _creation(torch.zeros, 0)(b, size, **kwargs),
    "full": _creation(torch.full),
    "softmax.int": _via(F.softmax, lambda x, dim, dtype=None: ((x, dim), {"dtype": dtype})),
    "log_softmax.int": _via(F.log_softmax, lambda x, dim, dtype=None: ((x, dim), {"dtype": dtype})),
    "batch_norm": _via(F.batch_norm, lambda x, w, bias, mean, var, training, momentum, eps, cudnn=True:
                       ((x, mean, var, w, bias, training, momentum, eps), {})),
    "instance_norm": _via(F.instance_norm, lambda x, w, bias, mean, var, use_input_stats, momentum, eps, cudnn=True:
                          ((x, mean, var, w, bias, use_input_stats, momentum, eps), {})),
    "embedding": _via(F.embedding, lambda weight, indices, padding_idx=-1, scale_grad=False, sparse=False:
                      ((indices, weight), {"padding_idx": None if padding_idx == -1 else padding_idx})),
    "expand": _via("expand", lambda x, size, *, implicit=False: ((x, *size), {})),
    "feature_dropout": _via(F.dropout, lambda x, p, train: ((x, p, train), {})),
    "alpha_dropout": _via(F.dropout, lambda x, p, train: ((x, p, train), {})),
    "feature_alpha_dropout": _via(F.dropout, lambda x, p, train: ((x, p, train), {})),
    "constant_pad_nd": _via(F.pad, lambda x, pad, value=0: ((x, list(pad), "constant", value), {})),
    "rsub": _via(torch.sub, lambda x, other, alpha=1: ((other, x), {"alpha": alpha})),
    "__and__": _via(operator.and_, lambda a, b: ((a, b), {})),
    "__or__": _via(operator.or_, lambda a, b: ((a, b), {})),
    "__xor__": _via(operator.xor, lambda a, b: ((a, b), {})),
    "bitwise_not": _via(operator.invert, lambda x: ((x,), {})),
    "elu": _elu,
    "adaptive_max_pool1d": _values_only(F.adaptive_max_pool1d),
    "adaptive_max_pool2d": _values_only(F.adaptive_max_pool2d),
    "adaptive_max_pool3d": _values_only(F.adaptive_max_pool3d),
    "upsample_nearest1d.vec": _interpolate("nearest"),
    "upsample_nearest2d.vec": _interpolate("nearest"),
    "upsample_nearest3d.vec": _interpolate("nearest"),
    "upsample_linear1d.vec": _interpolate("linear"),
    "upsample_bilinear2d.vec": _interpolate("bilinear"),
    "upsample_trilinear3d.vec": _interpolate("trilinear"),
    "upsample_bicubic2d.vec": _interpolate("bicubic"),
    "_upsample_bilinear2d_aa.vec": _interpolate("bilinear", antialias=True),
    "_upsample_bicubic2d_aa.vec": _interpolate("bicubic", antialias=True),
    "max_pool1d_with_indices": _with_indices(F.max_pool1d),
    "max_pool2d_with_indices": _with_indices(F.max_pool2d),
    "max_pool3d_with_indices": _with_indices(F.max_pool3d),
    "broadcast_tensors": _broadcast_tensors,
    "split_with_sizes": _via(torch.split, lambda x, sizes, dim=0: ((x, list(sizes), dim), {})),
    "log_sigmoid": _via(F.logsigmoid, lambda x: ((x,), {})),
    # transformers' MoE experts under torch.export (float weights): its custom op
    # torch.ops.transformers.grouped_mm_fallback computes what torch._grouped_mm does
    "grouped_mm_fallback": lambda b, x, weight, offs: grouped_mm(b, x, weight, offs),
    "numpy_T": lambda b, x: b.emit(TRANSPOSE, [x], perm=list(reversed(range(b.rank(x))))),
    "embedding_bag": _bag,
    "_fft_r2c": fft_r2c,
    "_fft_c2c": fft_c2c,
    "_fft_c2r": fft_c2r,
    # torch.stft pads a centred signal itself (aten.pad, recorded apart) before aten.stft
    "stft.default": _via(torch.stft, lambda x, n_fft, hop_length=None, win_length=None, window=None, normalized=False,
                         onesided=None, return_complex=None, align_to_window=None: ((x, n_fft), {
                             "hop_length": hop_length, "win_length": win_length, "window": window, "center": False,
                             "normalized": normalized, "onesided": onesided, "return_complex": return_complex,
                             "align_to_window": align_to_window})),
    "cross_entropy_loss": _via(F.cross_entropy, lambda x, target, weight=None, reduction=1, ignore_index=-100,
                               label_smoothing=0.0: ((x, target, weight), {
                                   "reduction": _REDUCTIONS[reduction], "ignore_index": ignore_index,
                                   "label_smoothing": label_smoothing})),
    "nll_loss_nd": _via(F.nll_loss, lambda x, target, weight=None, reduction=1, ignore_index=-100: (
        (x, target, weight), {"reduction": _REDUCTIONS[reduction], "ignore_index": ignore_index})),
}


# ------------------------------------------------------------------ writes into views
def _reshaped_back(b, base: Ref, value: Ref, *view_args: Any, **view_kwargs: Any) -> Ref:
    """A view holding every element of its base in the same order (view, reshape that
    viewed, squeeze, unsqueeze, flatten): the written view reshaped to the base's shape."""
    return emit_reshape(b, value, shape_of(b, base))


def _permuted_back(b, base: Ref, value: Ref, dims: Any) -> Ref:
    """``x.permute(dims)`` written into: the inverse permutation brings it back."""
    perm = [checked_dim(b, base, d) for d in dims]
    return b.emit(TRANSPOSE, [value], perm=[perm.index(i) for i in range(len(perm))])


def _transposed_back(b, base: Ref, value: Ref, dim0: int, dim1: int) -> Ref:
    return function_rule_for(torch.transpose)(b, value, dim0, dim1)  # its own inverse


SCATTER_BACK: dict[str, Callable[..., Ref]] = {  # view op -> base with the view's part replaced
    "slice.Tensor": lambda b, base, value, *a, **k: function_rule_for(torch.slice_scatter)(b, base, value, *a, **k),
    "select.int": lambda b, base, value, *a, **k: function_rule_for(torch.select_scatter)(b, base, value, *a, **k),
    "alias.default": lambda b, base, value, *a, **k: value,
    "detach.default": lambda b, base, value, *a, **k: value,
    "view.default": _reshaped_back,
    "_unsafe_view.default": _reshaped_back,
    "reshape.default": _reshaped_back,  # only a reshape that viewed is recorded (ExportReplay.applied)
    "squeeze.default": _reshaped_back,
    "squeeze.dim": _reshaped_back,
    "squeeze.dims": _reshaped_back,
    "unsqueeze.default": _reshaped_back,
    "flatten.using_ints": _reshaped_back,
    "unflatten.int": _reshaped_back,
    "permute.default": _permuted_back,
    "transpose.int": _transposed_back,
}


def scatter_back(b, view_op: Any, base: Ref, value: Ref, *view_args: Any, **view_kwargs: Any) -> Ref:
    """``base`` with the part ``view_op(base, *view_args)`` replaced by ``value``: how a
    write into a view (``z[:, :4] = 0`` is slice + fill_; Funnel's ``attn *= mask`` on a
    reshape) changes the tensor viewed."""
    rule = SCATTER_BACK.get(f"{_name(view_op)}.{view_op._overloadname}")
    if rule is None:
        raise b.unsupported(f"writing into the result of {label(view_op)} (only slices, x[i], reshapes and "
                            "permutations can be assigned to)")
    return rule(b, base, value, *view_args, **view_kwargs)


# ------------------------------------------------------------------ arithmetic on traced sizes
# torch.export spells a clamped size (``self.cache[:x.size(0)]``) with these; on int64
# scalars they are the elementwise ops.
SIZE_FUNCTIONS: dict[Any, Rule] = {
    torch.sym_min: lambda b, a, other: binary(b, MINIMUM, a, other),
    torch.sym_max: lambda b, a, other: binary(b, MAXIMUM, a, other),
    torch.sym_float: lambda b, x: cast(b, x, default_float()),
    torch.sym_int: lambda b, x: cast(b, x, "int64"),
}
