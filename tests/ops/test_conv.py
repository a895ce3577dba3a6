"""Parity of convolutions: Conv1d/2d/3d (groups, dilation, stride, int/tuple/'same'/'valid'
padding, non-zero padding modes), ConvTranspose1d/2d/3d and the functional spellings, with
module parameters or with a weight computed in forward."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import attr, Wrap, export_checked, onnx_ops

INPUTS = {1: (1, 3, 9), 2: (1, 3, 9, 9), 3: (1, 3, 5, 6, 7)}
CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}



@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, dilation=2, padding=2),
    dict(kernel_size=3, groups=3, out_channels=6),
    dict(kernel_size=3, padding="same"),
    dict(kernel_size=4, padding="same"),
    dict(kernel_size=2, padding="same", dilation=3),
    dict(kernel_size=3, padding="valid", bias=False),
])
def test_conv(spatial, kwargs):
    torch.manual_seed(0)
    kwargs = {"out_channels": 4, **kwargs}
    models = export_checked(CONV[spatial](3, **kwargs), torch.randn(INPUTS[spatial]))
    assert onnx_ops(models[18]) == ["Conv"]


def test_conv2d_tuple_arguments():
    torch.manual_seed(0)
    layer = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    export_checked(layer, torch.randn(1, 3, 9, 9))


def test_conv_same_even_kernel_pads_one_more_at_the_end():
    models = export_checked(nn.Conv2d(3, 4, (4, 3), padding="same"), torch.randn(1, 3, 9, 9))
    assert attr(models[18], "Conv", "pads") == [1, 1, 2, 1]


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, "same"])
def test_conv_padding_modes(spatial, mode, padding):
    torch.manual_seed(0)
    layer = CONV[spatial](3, 4, 2 if padding == "same" else 3, padding=padding, padding_mode=mode)
    models = export_checked(layer, torch.randn(INPUTS[spatial]))
    assert onnx_ops(models[18])[-1] == "Conv"
    assert attr(models[18], "Conv", "pads") == [0] * 2 * spatial


def test_conv_reflect_padding_is_a_pad_node():
    models = export_checked(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), torch.randn(1, 3, 9, 9))
    assert onnx_ops(models[18]) == ["Pad", "Conv"]
    assert attr(models[18], "Pad", "mode") == b"reflect"


def test_conv_circular_padding_uses_wrap_from_opset_19():
    layer = nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular")
    models = export_checked(layer, torch.randn(1, 3, 9, 9), opsets=(19, 18))
    assert onnx_ops(models[19]) == ["Pad", "Conv"]
    assert "Pad" not in onnx_ops(models[18])


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=2, stride=3, padding=1, output_padding=2),
    dict(kernel_size=3, dilation=2, padding=2, stride=2, output_padding=1),
    dict(kernel_size=3, groups=3, out_channels=6, stride=2),
    dict(kernel_size=4, stride=2, padding=1, bias=False),
])
def test_conv_transpose(spatial, kwargs):
    torch.manual_seed(0)
    kwargs = {"out_channels": 4, **kwargs}
    models = export_checked(CONV_T[spatial](3, **kwargs), torch.randn(INPUTS[spatial]))
    assert onnx_ops(models[18]) == ["ConvTranspose"]


def test_conv_transpose_output_size():
    torch.manual_seed(0)
    up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)
    models = export_checked(Wrap(lambda x: up(x, output_size=[18, 17]), up), torch.randn(1, 3, 9, 9))
    assert attr(models[18], "ConvTranspose", "output_padding") == [1, 0]


def test_conv_transpose_unreachable_output_size_is_refused():
    up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)
    with pytest.raises(UnsupportedError, match="valid sizes range from"):
        graphnn.trace(Wrap(lambda x: up(x, output_size=[20, 20]), up), torch.randn(1, 3, 9, 9))


class FunctionalConv(nn.Module):
    """F.conv*d / F.conv_transpose*d with module parameters (a bias when out_channels is set)."""

    def __init__(self, fn, weight_shape, out_channels=None, **kwargs):
        super().__init__()
        self.fn, self.kwargs = fn, kwargs
        self.weight = nn.Parameter(torch.randn(weight_shape) * 0.3)
        self.bias = nn.Parameter(torch.randn(out_channels)) if out_channels else None

    def forward(self, x):
        return self.fn(x, self.weight, self.bias, **self.kwargs)


@pytest.mark.parametrize("fn, weight_shape, out_channels, kwargs", [
    (F.conv1d, (4, 3, 3), 4, dict(stride=2, padding=1)),
    (F.conv2d, (6, 1, 3, 3), 6, dict(groups=3, padding="same")),
    (F.conv2d, (4, 3, 2, 2), 4, dict(padding="same", dilation=2)),
    (F.conv3d, (4, 3, 2, 2, 2), 4, dict(padding=(1, 0, 1))),
    (F.conv_transpose1d, (3, 4, 3), 4, dict(stride=2, output_padding=1)),
    (F.conv_transpose2d, (3, 2, 3, 3), 6, dict(stride=2, padding=1, groups=3)),
    (F.conv_transpose3d, (3, 4, 2, 2, 2), 4, dict(stride=2)),
])
def test_functional_conv(fn, weight_shape, out_channels, kwargs):
    torch.manual_seed(0)
    model = FunctionalConv(fn, weight_shape, out_channels, **kwargs)
    models = export_checked(model, torch.randn(INPUTS[len(weight_shape) - 2]))
    assert onnx_ops(models[18]) == ["ConvTranspose" if "transpose" in fn.__name__ else "Conv"]
    assert len(models[18].graph.initializer) == 2  # weight and bias, as for the layer


def test_functional_conv_without_bias_or_optimization():
    torch.manual_seed(0)
    model = FunctionalConv(F.conv2d, (4, 3, 3, 3))
    models = export_checked(model, torch.randn(1, 3, 9, 9), optimize=False)
    assert onnx_ops(models[18]) == ["Conv"]
    assert len(models[18].graph.initializer) == 1  # the traced constant and the conv share it


def test_functional_conv_then_batchnorm_folds():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(4)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    model = nn.Sequential(FunctionalConv(F.conv2d, (4, 3, 3, 3), 4), bn)
    models = export_checked(model, torch.randn(1, 3, 9, 9))
    assert onnx_ops(models[18]) == ["Conv"]


class StandardizedConv(nn.Module):
    """timm's StdConv2d / ScaledStdConv2d: the weight standardised in forward (F.batch_norm
    over the weight itself, a gain computed from a parameter), then F.conv*d with it."""

    def __init__(self, fn, weight_shape, bias=True, **kwargs):
        super().__init__()
        self.fn, self.kwargs = fn, kwargs
        self.weight = nn.Parameter(torch.randn(weight_shape))
        self.gain = nn.Parameter(torch.rand(weight_shape[0]) + 0.5)
        self.bias = nn.Parameter(torch.randn(weight_shape[0])) if bias else None

    def forward(self, x):
        flat = self.weight.reshape(1, self.weight.shape[0], -1)
        weight = F.batch_norm(flat, None, None, weight=self.gain * 0.3, training=True, momentum=0.0, eps=1e-6)
        bias = None if self.bias is None else self.bias * 2
        return self.fn(x, weight.reshape_as(self.weight), bias, **self.kwargs)


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("fn, weight_shape, bias, kwargs", [
    (F.conv1d, (4, 3, 3), True, dict(stride=2, padding=1)),
    (F.conv2d, (6, 1, 3, 3), False, dict(groups=3, padding="same")),
    (F.conv2d, (4, 3, 2, 2), True, dict(padding="same", dilation=2)),
    (F.conv3d, (4, 3, 2, 2, 2), True, dict(padding=(1, 0, 1))),
])
def test_functional_conv_with_a_weight_computed_in_forward(fn, weight_shape, bias, kwargs, frontend):
    torch.manual_seed(0)
    model = StandardizedConv(fn, weight_shape, bias, **kwargs)
    models = export_checked(model, torch.randn(INPUTS[len(weight_shape) - 2]), frontend=frontend)
    conv = next(n for n in models[18].graph.node if n.op_type == "Conv")
    assert conv is models[18].graph.node[-1] and len(conv.input) == (3 if bias else 2)
    assert conv.input[1] not in {t.name for t in models[18].graph.initializer}  # W is computed


class ScaledTransposeConv(nn.Module):
    """F.conv_transpose*d with a weight (and bias) computed in forward: a decoder kernel scaled
    by a learned per-input-channel gain, as tied or weight-normed upsamplers do."""

    def __init__(self, fn, weight_shape, groups, bias, **kwargs):
        super().__init__()
        self.fn, self.groups, self.kwargs = fn, groups, kwargs
        self.weight = nn.Parameter(torch.randn(weight_shape) * 0.3)
        self.gain = nn.Parameter(torch.rand(weight_shape[0]) + 0.5)
        self.bias = nn.Parameter(torch.randn(weight_shape[1] * groups)) if bias else None

    def forward(self, x):
        weight = self.weight * self.gain.reshape(-1, *[1] * (self.weight.dim() - 1))
        bias = None if self.bias is None else self.bias.tanh()
        return self.fn(x, weight, bias, groups=self.groups, **self.kwargs)


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("fn, weight_shape, groups, bias, kwargs", [
    (F.conv_transpose1d, (3, 4, 3), 1, True, dict(stride=2, output_padding=1)),
    (F.conv_transpose2d, (3, 2, 3, 3), 3, False, dict(stride=2, padding=1)),
    (F.conv_transpose2d, (3, 4, 2, 2), 1, True, dict(stride=3, dilation=2, output_padding=1)),
    (F.conv_transpose3d, (3, 4, 2, 2, 2), 1, True, dict(stride=2, padding=(1, 0, 1))),
])
def test_functional_conv_transpose_with_a_weight_computed_in_forward(fn, weight_shape, groups, bias, kwargs,
                                                                       frontend):
    torch.manual_seed(0)
    model = ScaledTransposeConv(fn, weight_shape, groups, bias, **kwargs)
    models = export_checked(model, torch.randn(INPUTS[len(weight_shape) - 2]), frontend=frontend)
    conv = models[18].graph.node[-1]
    assert conv.op_type == "ConvTranspose" and len(conv.input) == (3 if bias else 2)
    assert conv.input[1] not in {t.name for t in models[18].graph.initializer}  # W is computed


@pytest.mark.parametrize("frontend", ["fx", "export"])
@pytest.mark.parametrize("layer, kwargs", [(nn.ConvTranspose1d, dict(kernel_size=8, stride=4, padding=2)),
                                           (nn.Conv1d, dict(kernel_size=7, padding=3))])
def test_weight_normed_conv(frontend, layer, kwargs):
    """HiFi-GAN's and wav2vec2's layers: weight_norm(ConvTranspose1d / Conv1d), whose weight
    g * v / |v| the parametrization recomputes on access. fx uses the layer's own rule (the
    weight read once); torch.export records the computation (a computed weight), which the
    passes fold: either way the file holds one constant kernel."""
    torch.manual_seed(0)
    normed = nn.utils.parametrizations.weight_norm(layer(3, 4, **kwargs))
    models = export_checked(nn.Sequential(normed, nn.LeakyReLU(0.1)), torch.randn(1, 3, 9), frontend=frontend)
    assert onnx_ops(models[18]) == [layer.__name__.removesuffix("1d"), "LeakyRelu"]
    assert len(models[18].graph.initializer) == 2  # the folded kernel and the bias


def test_computed_conv_transpose_bias_of_the_wrong_size_is_a_shape_error():
    model = ScaledTransposeConv(F.conv_transpose2d, (3, 2, 3, 3), 3, False)
    wrong = Wrap(lambda x: F.conv_transpose2d(x, model.weight * 2, model.gain, groups=3), model)
    with pytest.raises(ShapeError, match=r"expects a bias of shape \(6,\), gets \(3,\)"):
        graphnn.trace(wrong, torch.randn(1, 3, 9, 9))


def test_conv_channel_mismatch():
    with pytest.raises(ShapeError, match="expects 16 input channels, gets 3"):
        graphnn.trace(nn.Sequential(nn.Conv2d(16, 8, 3)), torch.randn(1, 3, 9, 9))


def test_grouped_conv_channel_mismatch():
    with pytest.raises(ShapeError, match="expects 8 input channels, gets 6"):
        graphnn.trace(nn.Sequential(nn.Conv2d(8, 8, 3, groups=4)), torch.randn(1, 6, 9, 9))


def test_conv_transpose_channel_mismatch():
    with pytest.raises(ShapeError, match="expects 4 input channels, gets 3"):
        graphnn.trace(nn.Sequential(nn.ConvTranspose2d(4, 2, 3)), torch.randn(1, 3, 9, 9))


def test_conv_rank_mismatch():
    with pytest.raises(ShapeError, match=r"expects a 4-d input \(N, C, H, W\), gets 3-d"):
        graphnn.trace(nn.Sequential(nn.Conv2d(3, 4, 3)), torch.randn(1, 3, 9))
