"""Rules for convolutions: nn.Conv1d/2d/3d, nn.ConvTranspose1d/2d/3d and the functional
``F.conv*d`` / ``F.conv_transpose*d`` spellings, all as ``conv{n}d`` / ``conv_transpose{n}d``.

Padding is normalised to ONNX's [begin..., end...] form; a non-zero ``padding_mode``
becomes a ``pad`` op in front of a conv with no padding of its own. The functional
spellings take their weight and bias from module attributes (traced as constants),
so they become the same op, with params, as the layers; a weight or bias computed in
forward (timm's weight-standardised convs) makes a ``computed_conv{n}d`` (transposed:
``computed_conv_transpose{n}d``), which reads them as inputs.
"""
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.pad import emit_pad
from graphnn.frontend.layers.pool import per_dim
from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.conv import COMPUTED_CONV, COMPUTED_CONV_TRANSPOSE, CONV, CONV_TRANSPOSE


def conv_pads(padding, kernel: list, dilation: list) -> list:
    """torch's padding (int, tuple, 'valid' or 'same') as ONNX pads [begin..., end...].

    'same' puts the odd extra element at the end, as torch does for even kernels."""
    spatial = len(kernel)
    if padding == "valid":
        return [0] * 2 * spatial
    if padding == "same":
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return [t // 2 for t in totals] + [t - t // 2 for t in totals]
    return per_dim(padding, spatial) * 2


def emit_conv(b, x, weight, bias, stride=1, padding=0, dilation=1, groups=1,
              padding_mode="zeros"):
    """One conv op; a padding_mode other than zeros pads explicitly first."""
    spatial = weight.dim() - 2
    kernel = list(weight.shape[2:])
    dilation = per_dim(dilation, spatial)
    pads = conv_pads(padding, kernel, dilation)
    if padding_mode != "zeros" and any(pads):
        x = emit_pad(b, x, [0, 0, *pads[:spatial], 0, 0, *pads[spatial:]], padding_mode,
                     name=f"{b.name}_pad")
        pads = [0] * 2 * spatial
    return b.emit(CONV[spatial], [x], params={"weight": weight, "bias": bias},
                  stride=per_dim(stride, spatial), pads=pads, dilation=dilation, groups=groups)


@module_rule(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def conv_layer(b, module, x):
    return emit_conv(b, x, module.weight, module.bias, module.stride, module.padding,
                     module.dilation, module.groups, module.padding_mode)


def emit_computed_conv(b, x, weight, bias, stride, padding, dilation, groups):
    """A conv whose weight (and bias) are IR values: inputs 1 and 2 of one ``computed_conv``."""
    kernel = list(b.shape(weight)[2:])
    spatial = len(kernel)
    dilation = per_dim(dilation, spatial)
    inputs = [x, weight] if bias is None else [x, weight, bias]
    return b.emit(COMPUTED_CONV[spatial], inputs, kernel=kernel, stride=per_dim(stride, spatial),
                  pads=conv_pads(padding, kernel, dilation), dilation=dilation, groups=groups)


@function_rule(F.conv1d, F.conv2d, F.conv3d)
def conv_function(b, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if b.is_computed(weight) or b.is_computed(bias):
        return emit_computed_conv(b, x, weight, bias, stride, padding, dilation, groups)
    return emit_conv(b, x, b.module_tensor(weight, "conv weight"), b.module_tensor(bias, "conv bias"),
                     stride, padding, dilation, groups)


def _transpose_attrs(spatial, stride, padding, output_padding, groups, dilation) -> dict:
    return dict(stride=per_dim(stride, spatial), pads=per_dim(padding, spatial) * 2,
                dilation=per_dim(dilation, spatial), groups=groups,
                output_padding=per_dim(output_padding, spatial))


def emit_conv_transpose(b, x, weight, bias, stride=1, padding=0, output_padding=0, groups=1,
                        dilation=1, output_size=None):
    spatial = weight.dim() - 2
    attrs = _transpose_attrs(spatial, stride, padding, output_padding, groups, dilation)
    if output_size is not None:
        attrs["output_padding"] = _padding_for_size(b, x, weight, attrs, output_size)
    return b.emit(CONV_TRANSPOSE[spatial], [x], params={"weight": weight, "bias": bias}, **attrs)


def _padding_for_size(b, x, weight, attrs, output_size) -> list:
    """``layer(x, output_size=...)``: the output_padding that reaches that size."""
    spatial = weight.dim() - 2
    wanted = list(output_size)[-spatial:]
    sizes = b.shape(x)[-spatial:]
    if not all(isinstance(d, int) for d in wanted + list(sizes)):
        raise b.unsupported("ConvTranspose output_size computed at run time")
    smallest = [
        (n - 1) * s - 2 * p + d * (k - 1) + 1
        for n, s, p, d, k in zip(sizes, attrs["stride"], attrs["pads"], attrs["dilation"], weight.shape[2:])
    ]
    extra = [w - m for w, m in zip(wanted, smallest)]
    if any(not 0 <= e < max(s, d) for e, s, d in zip(extra, attrs["stride"], attrs["dilation"])):
        largest = [m + max(s, d) - 1 for m, s, d in zip(smallest, attrs["stride"], attrs["dilation"])]
        raise b.unsupported(f"ConvTranspose output_size {wanted} (valid sizes range from "
                            f"{smallest} to {largest})")
    return extra


@module_rule(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def conv_transpose_layer(b, module, x, output_size=None):
    return emit_conv_transpose(b, x, module.weight, module.bias, module.stride, module.padding,
                               module.output_padding, module.groups, module.dilation, output_size)


def emit_computed_conv_transpose(b, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """A transposed conv whose weight (and bias) are IR values, as ``emit_computed_conv``."""
    kernel = list(b.shape(weight)[2:])
    inputs = [x, weight] if bias is None else [x, weight, bias]
    return b.emit(COMPUTED_CONV_TRANSPOSE[len(kernel)], inputs, kernel=kernel,
                  **_transpose_attrs(len(kernel), stride, padding, output_padding, groups, dilation))


@function_rule(F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)
def conv_transpose_function(b, x, weight, bias=None, stride=1, padding=0, output_padding=0,
                            groups=1, dilation=1):
    if b.is_computed(weight) or b.is_computed(bias):
        return emit_computed_conv_transpose(b, x, weight, bias, stride, padding, output_padding, groups, dilation)
    return emit_conv_transpose(
        b, x, b.module_tensor(weight, "conv weight"), b.module_tensor(bias, "conv bias"),
        stride, padding, output_padding, groups, dilation,
    )

