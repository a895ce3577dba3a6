"""Rules for running sums and differences: ``torch.cumsum`` / ``x.cumsum``, ``torch.diff``.

Transformers number the real tokens of a padded batch with ``mask.cumsum(-1)`` (position
ids that skip padding). torch sums bool and integer tensors as int64 unless a dtype is
given; ONNX CumSum has no bool, so the cast comes first, as in torch.
"""
import torch

from graphnn.frontend.layers.elementwise import cast
from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.rules import function_rule, function_rule_for, method_rule
from graphnn.ops.cumulative import CUMSUM
from graphnn.ops.elementwise import LOGICAL_XOR, SUB
from graphnn.ops.indexing import INT64_MAX, SLICE
from graphnn.tensors import dtype_name, is_float


@function_rule(torch.cumsum)
@method_rule("cumsum", "cumsum_")
def cumsum(b, x, dim, *, dtype=None, out=None):
    if dtype is not None:
        target = dtype_name(dtype)
    else:
        target = b.dtype(x) if is_float(b.dtype(x)) else "int64"
    dim = checked_dim(b, x, dim) if b.rank(x) else 0
    return b.emit(CUMSUM, [cast(b, x, target)], dim=dim)


@function_rule(torch.diff)
@method_rule("diff")
def diff(b, x, n=1, dim=-1, prepend=None, append=None):
    """``x[1:] - x[:-1]`` along ``dim``, ``n`` times (GPT-2 and Llama's position ids on recent
    transformers); bool tensors differ by xor, as in torch."""
    dim = checked_dim(b, x, dim)
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = function_rule_for(torch.cat)(b, parts, dim)
    op = LOGICAL_XOR if b.dtype(x) == "bool" else SUB
    for _ in range(n):
        later = b.emit(SLICE, [x], dims=[dim], starts=[1], ends=[INT64_MAX], steps=[1])
        earlier = b.emit(SLICE, [x], dims=[dim], starts=[0], ends=[-1], steps=[1])
        x = b.emit(op, [later, earlier])
    return x
