"""Parity of padding: the Zero/Constant/Reflection/Replication/CircularPad layers and
F.pad in every mode, negative (cropping) pads, circular padding before and after
ONNX's 'wrap' mode (opset 19), a zero pad before a pool kept as data."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import attr, Wrap, export_checked, onnx_ops

INPUTS = {1: (1, 3, 9), 2: (1, 3, 9, 9), 3: (1, 2, 4, 5, 6)}
LAYERS = {
    "zero": (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d),
    "constant": (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d),
    "reflect": (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d),
    "replicate": (nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d),
    "circular": (nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d),
}



def make_layer(kind, spatial, padding):
    cls = LAYERS[kind][spatial - 1]
    return cls(padding, 1.5) if kind == "constant" else cls(padding)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("uniform", [True, False])
def test_pad_layer(kind, spatial, uniform):
    torch.manual_seed(0)
    padding = 2 if uniform else (1, 2, 3, 0, 2, 1)[:2 * spatial]
    models = export_checked(make_layer(kind, spatial, padding), torch.randn(INPUTS[spatial]),
                            opsets=(19, 18, 13))
    assert onnx_ops(models[19]) == ["Pad"]


@pytest.mark.parametrize("kind, mode", [("zero", b"constant"), ("reflect", b"reflect"),
                                        ("replicate", b"edge"), ("circular", b"wrap")])
def test_pad_onnx_mode(kind, mode):
    torch.manual_seed(0)
    models = export_checked(make_layer(kind, 2, (1, 2, 0, 1)), torch.randn(1, 3, 9, 9), opsets=(19,))
    assert onnx_ops(models[19]) == ["Pad"]
    assert attr(models[19], "Pad", "mode") == mode


def test_torch_pad_order_becomes_onnx_order():
    torch.manual_seed(0)
    models = export_checked(nn.ZeroPad2d((1, 2, 3, 4)), torch.randn(1, 3, 9, 9))
    pads = next(i for i in models[18].graph.initializer if i.name.endswith("pads"))
    assert numpy_helper.to_array(pads).tolist() == [0, 0, 3, 1, 0, 0, 4, 2]


def test_circular_pad_before_opset_19_slices_and_concatenates():
    torch.manual_seed(0)
    models = export_checked(nn.CircularPad2d((1, 2, 0, 3)), torch.randn(1, 3, 9, 9))
    assert onnx_ops(models[18]) == ["Slice", "Concat", "Slice", "Slice", "Concat"]  # H, then W


@pytest.mark.parametrize("pad, mode, value", [
    ((1, 2), "constant", None),
    ((1, 2, 3, 0), "constant", -2.5),
    ((1, 1, 1, 1, 1, 1, 1, 1), "constant", 0.5),  # the batch dim too
    ((2, 1, 1, 2), "reflect", None),
    ((2, 1, 0, 1), "replicate", None),
    ((1, 3, 2, 0), "circular", None),
    ((1, -2, -1, 2), "constant", 1.0),  # negative pads crop
    ((-1, -2), "constant", None),  # only crops
    ((0, 0), "constant", None),
    ((-1, 2, 1, -3), "reflect", None),  # crop, then reflect what is left
    ((-1, 2, 1, 0), "replicate", None),
    ((-1, 2, 2, -1), "circular", None),
])
def test_functional_pad(pad, mode, value):
    torch.manual_seed(0)
    export_checked(Wrap(lambda x: F.pad(x, pad, mode=mode, value=value)), torch.randn(2, 3, 7, 8),
                   opsets=(19, 18, 13))


def test_functional_pad_crop_only_is_a_slice():
    models = export_checked(Wrap(lambda x: F.pad(x, (-1, -2))), torch.randn(1, 3, 9, 9))
    assert onnx_ops(models[18]) == ["Slice"]


def test_reflect_pad_too_large():
    with pytest.raises(ShapeError, match="allows at most 2 for its 3 elements"):
        graphnn.trace(nn.Sequential(nn.ReflectionPad1d(3)), torch.randn(1, 2, 3))


def test_pad_list_longer_than_the_input_is_refused():
    with pytest.raises(UnsupportedError, match="pad list of 6 numbers for a 2-d input"):
        graphnn.trace(Wrap(lambda x: F.pad(x, (1, 1, 1, 1, 1, 1))), torch.randn(2, 3))


def test_unknown_pad_mode_is_refused():
    with pytest.raises(UnsupportedError, match="padding mode 'symmetric'"):
        graphnn.trace(Wrap(lambda x: F.pad(x, (1, 1), mode="symmetric")), torch.randn(2, 3, 4))


class PadToMultiple(torch.nn.Module):
    """timm's DaViT: pad the width to a multiple of the stride, computed from the traced size."""

    def forward(self, x):
        pad = (4 - x.shape[-1] % 4) % 4
        return torch.nn.functional.pad(x, (0, pad, 0, (4 - x.size(2) % 4) % 4))


@pytest.mark.parametrize("frontend", ["fx", "export"])
def test_pads_computed_from_static_sizes(frontend):
    models = export_checked(PadToMultiple(), torch.randn(2, 3, 5, 7), frontend=frontend)
    assert "Pad" in onnx_ops(models[18])


@pytest.mark.parametrize("pool, op", [
    (nn.MaxPool2d(3, stride=2), "MaxPool"),
    (nn.AvgPool2d(3, stride=2, count_include_pad=False), "AveragePool"),
    (nn.AvgPool2d(1, stride=2, count_include_pad=False), "AveragePool"),  # NASNet's path_2
])
@pytest.mark.parametrize("padding", [(1, 1, 1, 1), (-1, 1, -1, 1)])
def test_zero_pad_before_a_pool_stays_data(padding, pool, op):
    """onnxruntime's PadFusion would make the zeros the pool's padding: ignored by the max,
    not counted by the average, refused at load when as wide as the kernel."""
    models = export_checked(nn.Sequential(nn.ZeroPad2d(padding), pool), -1 - torch.rand(1, 3, 9, 9))
    assert onnx_ops(models[18])[-2:] == ["Pad", op]
    value = next(n.input[2] for n in models[18].graph.node if n.op_type == "Pad")
    assert str(numpy_helper.to_array(attr_initializer(models[18], value))) == "-0.0"


def attr_initializer(model, name):
    return next(t for t in model.graph.initializer if t.name == name)
