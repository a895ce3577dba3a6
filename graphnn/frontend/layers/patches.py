"""Rules for nn.Unfold / F.unfold (im2col) and nn.Fold / F.fold (col2im) on batched
(N, C, H, W) inputs, as the ``unfold`` and ``fold`` ops (torch.export records them as
aten.im2col / aten.col2im, mapped here in frontend/aten.py)."""
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.pool import per_dim
from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.patches import FOLD, UNFOLD


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
