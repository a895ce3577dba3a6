"""Rules for nn.Unfold / F.unfold (im2col) and nn.Fold / F.fold (col2im) on batched
(N, C, H, W) inputs, as the ``unfold`` and ``fold`` ops (torch.export records them as
aten.im2col / aten.col2im, mapped in frontend/aten.py), and the sliding windows of
``Tensor.unfold`` (HaloNet's attention), spelled with index_select, reshape and transpose."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.pool import per_dim
from graphnn.frontend.layers.shape import checked_dim, unflatten
from graphnn.frontend.rules import function_rule, method_rule, module_rule
from graphnn.ops.indexing import INDEX_SELECT
from graphnn.ops.patches import FOLD, UNFOLD
from graphnn.ops.shape import TRANSPOSE


def _window(kernel_size, dilation, padding, stride) -> dict:
    return dict(kernel=per_dim(kernel_size, 2), dilation=per_dim(dilation, 2), pads=per_dim(padding, 2) * 2,
                stride=per_dim(stride, 2))


@module_rule(nn.Unfold)
def unfold_layer(b, module, x):
    return unfold(b, x, module.kernel_size, module.dilation, module.padding, module.stride)


@function_rule(F.unfold)
def unfold(b, x, kernel_size, dilation=1, padding=0, stride=1):
    if b.rank(x) != 4:
        raise b.unsupported(f"unfold of a {b.rank(x)}-d input (only batched (N, C, H, W) is)")
    return b.emit(UNFOLD, [x], **_window(kernel_size, dilation, padding, stride))


@module_rule(nn.Fold)
def fold_layer(b, module, x):
    return fold(b, x, module.output_size, module.kernel_size, module.dilation, module.padding, module.stride)


@function_rule(F.fold)
def fold(b, x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    if b.rank(x) != 3:
        raise b.unsupported(f"fold of a {b.rank(x)}-d input (only batched (N, C*kh*kw, L) is)")
    return b.emit(FOLD, [x], output_size=per_dim(output_size, 2), **_window(kernel_size, dilation, padding, stride))


@method_rule("unfold")
def tensor_unfold(b, x, dimension, size, step):
    """``x.unfold(dim, size, step)``: windows of ``size`` every ``step`` along ``dim`` (a static
    length), as one index_select of the windows' positions, a reshape splitting ``dim`` into
    (windows, size), and a transpose moving size last, where torch puts it."""
    dim = checked_dim(b, x, dimension)
    length = b.shape(x)[dim]
    if not isinstance(length, int):
        raise b.unsupported("x.unfold() along a dynamic dim")
    count = (length - size) // step + 1
    positions = torch.arange(count).unsqueeze(1) * step + torch.arange(size)
    picked = b.emit(INDEX_SELECT, [x, b.constant(positions.flatten())], dim=dim)
    rank = b.rank(x)
    split = unflatten(b, picked, dim, (count, size))
    perm = [d for d in range(rank + 1) if d != dim + 1] + [dim + 1]
    return b.emit(TRANSPOSE, [split], perm=perm)
