"""Rules for running sums: ``torch.cumsum`` / ``x.cumsum``.

Transformers number the real tokens of a padded batch with ``mask.cumsum(-1)`` (position
ids that skip padding). torch sums bool and integer tensors as int64 unless a dtype is
given; ONNX CumSum has no bool, so the cast comes first, as in torch.
"""
import torch

from graphnn.frontend.layers.elementwise import cast
from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.rules import function_rule, method_rule
from graphnn.ops.cumulative import CUMSUM
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
