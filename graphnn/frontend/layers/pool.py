"""Rules for pooling: max, average, LP, adaptive and global pooling in 1, 2 and 3 dims,
as layers (nn.MaxPool2d), functions (F.max_pool2d, torch.max_pool2d).

Canonical ops: ``max_pool{n}d``, ``avg_pool{n}d``, ``lp_pool{n}d`` (attrs kernel,
stride, pads in ONNX's [begin..., end...] form, ceil_mode; max adds dilation, avg
count_include_pad, lp p) and ``global_{avg,max}_pool``. Adaptive pooling to one
element is global pooling; when every static input size is a multiple of its output
size it is a regular pool (kernel = stride = input/output). Any other output size is
``adaptive_{avg,max}_pool`` (attrs output_size, None keeping a dim), whose windows
[floor(i*L/out), ceil((i+1)*L/out)) overlap or vary in length.
"""
import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.pool import ADAPTIVE_POOL, AVG_POOL, GLOBAL_POOL, LP_POOL, MAX_POOL


def per_dim(value, spatial: int) -> list:
    """torch accepts an int or a tuple per pooling argument: always a list here."""
    return list(value) if isinstance(value, (tuple, list)) else [value] * spatial


def _window(kernel_size, stride, padding, spatial: int) -> dict:
    """The attrs every window pool shares; a missing stride (None or []) is the kernel."""
    return dict(kernel=per_dim(kernel_size, spatial), stride=per_dim(stride or kernel_size, spatial),
                pads=per_dim(padding, spatial) * 2)


def max_pool(b, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             return_indices=False, *, spatial: int):
    if return_indices:
        raise b.unsupported("max pooling with return_indices=True")
    return b.emit(MAX_POOL[spatial], [x], **_window(kernel_size, stride, padding, spatial),
                  dilation=per_dim(dilation, spatial), ceil_mode=bool(ceil_mode))


def avg_pool(b, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None, *, spatial: int):
    if divisor_override is not None:
        raise b.unsupported("average pooling with divisor_override")
    return b.emit(AVG_POOL[spatial], [x], **_window(kernel_size, stride, padding, spatial),
                  ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad))


def lp_pool(b, x, norm_type, kernel_size, stride=None, ceil_mode=False, *, spatial: int):
    return b.emit(LP_POOL[spatial], [x], **_window(kernel_size, stride, 0, spatial),
                  p=float(norm_type), ceil_mode=bool(ceil_mode))


def adaptive_pool(b, x, output_size, return_indices=False, *, kind: str, spatial: int):
    """Global pooling, a regular pool when the sizes divide, else ``adaptive_{kind}_pool``."""
    if return_indices:
        raise b.unsupported("adaptive max pooling with return_indices=True (use return_indices=False)")
    sizes = list(b.shape(x)[-spatial:])
    outs = per_dim(output_size, spatial)
    if all(out == 1 for out in outs):
        return b.emit(GLOBAL_POOL[kind], [x], spatial=spatial)
    _check_static(b, sizes, outs, kind)
    wanted = [size if out is None else out for out, size in zip(outs, sizes)]
    if all(isinstance(size, int) and size % out == 0 for size, out in zip(sizes, wanted)):
        kernel = [size // out for size, out in zip(sizes, wanted)]
        pool = max_pool if kind == "max" else avg_pool
        return pool(b, x, kernel, kernel, spatial=spatial)
    return b.emit(ADAPTIVE_POOL[kind], [x], output_size=outs)


def _check_static(b, sizes: list, outs: list, kind: str) -> None:
    """Windows over a dynamic dim move with its size: only keeping it (None) or pooling it
    to 1 work for every size."""
    for axis, (size, out) in enumerate(zip(sizes, outs), start=2):
        if not isinstance(size, int) and out not in (None, 1):
            raise b.unsupported(
                f"adaptive {kind} pooling of the dynamic dim {axis} ({size!r}) to size {out} (its windows "
                f"move with the input size: make dim {axis} static, or pool it to 1, or keep it with None)"
            )


# (layer, functional spellings) per spatial rank; each gets the shared rule with its rank.
_MAX = {1: (nn.MaxPool1d, F.max_pool1d, torch.max_pool1d),
        2: (nn.MaxPool2d, F.max_pool2d, torch.max_pool2d),
        3: (nn.MaxPool3d, F.max_pool3d, torch.max_pool3d)}
_AVG = {1: (nn.AvgPool1d, F.avg_pool1d), 2: (nn.AvgPool2d, F.avg_pool2d), 3: (nn.AvgPool3d, F.avg_pool3d)}
_LP = {1: (nn.LPPool1d, F.lp_pool1d), 2: (nn.LPPool2d, F.lp_pool2d), 3: (nn.LPPool3d, F.lp_pool3d)}
_ADAPTIVE = {
    ("avg", 1): (nn.AdaptiveAvgPool1d, F.adaptive_avg_pool1d),
    ("avg", 2): (nn.AdaptiveAvgPool2d, F.adaptive_avg_pool2d),
    ("avg", 3): (nn.AdaptiveAvgPool3d, F.adaptive_avg_pool3d),
    ("max", 1): (nn.AdaptiveMaxPool1d, F.adaptive_max_pool1d),
    ("max", 2): (nn.AdaptiveMaxPool2d, F.adaptive_max_pool2d),
    ("max", 3): (nn.AdaptiveMaxPool3d, F.adaptive_max_pool3d),
}


def _register(layer, functions, rule, layer_args):
    """A function rule for ``functions``, and a layer rule calling it with the layer's args."""
    function_rule(*functions)(rule)
    module_rule(layer)(lambda b, module, x: rule(b, x, *layer_args(module)))


for _n, (_layer, *_functions) in _MAX.items():
    _register(_layer, _functions, functools.partial(max_pool, spatial=_n), lambda m: (
        m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices))
for _n, (_layer, *_functions) in _AVG.items():
    _register(_layer, _functions, functools.partial(avg_pool, spatial=_n), lambda m: (
        m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
        getattr(m, "divisor_override", None)))
for _n, (_layer, *_functions) in _LP.items():
    _register(_layer, _functions, functools.partial(lp_pool, spatial=_n), lambda m: (
        m.norm_type, m.kernel_size, m.stride, m.ceil_mode))
for (_kind, _n), (_layer, *_functions) in _ADAPTIVE.items():
    _register(_layer, _functions, functools.partial(adaptive_pool, kind=_kind, spatial=_n),
              lambda m: (m.output_size, getattr(m, "return_indices", False)))
