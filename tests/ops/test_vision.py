"""Parity of vision layers: Upsample / F.interpolate as ONNX Resize (nearest, nearest-exact,
linear, bilinear, bicubic, trilinear; align_corners; scale_factor or size), PixelShuffle,
PixelUnshuffle and ChannelShuffle."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from graphnn.backend.onnx import to_onnx
from tests.parity_utils import attr, Wrap, export_checked, onnx_ops



@pytest.mark.parametrize("mode, align_corners", [
    ("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True),
    ("bicubic", False), ("bicubic", True),
])
@pytest.mark.parametrize("resize", [
    dict(scale_factor=2), dict(scale_factor=1.5), dict(scale_factor=(0.5, 3)), dict(scale_factor=0.7),
    dict(size=(4, 13)), dict(size=1), dict(scale_factor=1.7, recompute_scale_factor=True),
])
def test_upsample_2d(mode, align_corners, resize):
    torch.manual_seed(0)
    models = export_checked(nn.Upsample(mode=mode, align_corners=align_corners, **resize),
                            torch.randn(1, 3, 5, 6))
    assert onnx_ops(models[18]) == ["Resize"]


@pytest.mark.parametrize("mode, shape", [
    ("nearest", (1, 3, 7)), ("linear", (1, 3, 7)), ("nearest", (1, 2, 3, 4, 5)),
    ("trilinear", (1, 2, 3, 4, 5)),
])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("resize", [dict(scale_factor=2), dict(size=5)])
def test_upsample_1d_and_3d(mode, shape, align_corners, resize):
    torch.manual_seed(0)
    align_corners = align_corners if mode != "nearest" else None
    export_checked(nn.Upsample(mode=mode, align_corners=align_corners, **resize), torch.randn(shape))


@pytest.mark.parametrize("mode, transform, rounding", [
    ("nearest", b"asymmetric", b"floor"),
    ("nearest-exact", b"half_pixel", b"round_prefer_ceil"),
])
def test_nearest_coordinate_modes(mode, transform, rounding):
    models = export_checked(nn.Upsample(scale_factor=2, mode=mode), torch.randn(1, 3, 5, 6))
    assert attr(models[18], "Resize", "coordinate_transformation_mode") == transform
    assert attr(models[18], "Resize", "nearest_mode") == rounding


@pytest.mark.parametrize("layer, transform", [
    (nn.Upsample(scale_factor=2, mode="bilinear"), b"half_pixel"),
    (nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), b"align_corners"),
    (nn.UpsamplingBilinear2d(scale_factor=2), b"align_corners"),
    (nn.UpsamplingNearest2d(size=(7, 9)), b"asymmetric"),
])
def test_upsampling_layers(layer, transform):
    torch.manual_seed(0)
    models = export_checked(layer, torch.randn(1, 3, 5, 6))
    assert attr(models[18], "Resize", "coordinate_transformation_mode") == transform


def test_resize_to_a_size_before_opset_18_reads_batch_and_channels():
    torch.manual_seed(0)
    models = export_checked(nn.Upsample(size=(7, 9)), torch.randn(2, 3, 5, 6))
    assert onnx_ops(models[13]) == ["Shape", "Slice", "Concat", "Resize"]
    assert attr(models[18], "Resize", "axes") == [2, 3]


@pytest.mark.parametrize("fn", [
    lambda x: F.interpolate(x, scale_factor=2),
    lambda x: F.interpolate(x, size=(10, 3), mode="bilinear", align_corners=False),
    lambda x: F.interpolate(x, scale_factor=(2, 1), mode="bicubic", align_corners=True),
    lambda x: F.upsample(x, scale_factor=2, mode="nearest"),
    lambda x: F.upsample_nearest(x, size=(8, 8)),
    lambda x: F.upsample_bilinear(x, scale_factor=2),
])
def test_functional_interpolate(fn):
    torch.manual_seed(0)
    models = export_checked(Wrap(fn), torch.randn(1, 3, 5, 6))
    assert onnx_ops(models[18]) == ["Resize"]


def test_interpolate_to_another_tensors_size():
    torch.manual_seed(0)
    model = Wrap(lambda x, y: F.interpolate(x, size=y.shape[-2:], mode="bilinear") + y)
    models = export_checked(model, (torch.randn(1, 3, 4, 5), torch.randn(1, 3, 8, 11)))
    assert onnx_ops(models[18]) == ["Resize", "Add"]


@pytest.mark.parametrize("resize, op", [
    (dict(size=(2, 3)), "AveragePool"), (dict(size=1), "GlobalAveragePool"),
    (dict(scale_factor=0.5), "AveragePool"),
])
def test_interpolate_area_is_adaptive_average_pooling(resize, op):
    torch.manual_seed(0)
    models = export_checked(Wrap(lambda x: F.interpolate(x, mode="area", **resize)), torch.randn(1, 3, 4, 6))
    assert onnx_ops(models[18]) == [op]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("resize", [
    dict(size=(7, 9)), dict(size=(3, 4)), dict(size=(5, 30)), dict(size=(28, 34)),
    dict(scale_factor=0.5), dict(scale_factor=(0.3, 2.5)), dict(scale_factor=3),
])
@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_interpolate_antialias_is_resize_antialias(mode, resize, frontend):
    """Down- and up-scaling: torch's aa filter is Resize's with exclude_outside, cubic at a=-0.5."""
    torch.manual_seed(0)
    model = Wrap(lambda x: F.interpolate(x, mode=mode, antialias=True, **resize))
    models = export_checked(model, torch.randn(2, 3, 14, 17), opsets=(18, 20), frontend=frontend)
    assert attr(models[18], "Resize", "antialias") == 1
    assert attr(models[18], "Resize", "exclude_outside") == 1


def test_interpolate_antialias_bicubic_uses_pils_coefficient():
    models = export_checked(Wrap(lambda x: F.interpolate(x, size=(4, 5), mode="bicubic", antialias=True)),
                            torch.randn(1, 2, 9, 11), opsets=(18,))
    assert attr(models[18], "Resize", "cubic_coeff_a") == pytest.approx(-0.5)


def test_interpolate_antialias_below_opset_18_is_refused_naming_the_opset():
    graph = graphnn.trace(Wrap(lambda x: F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)),
                          (torch.randn(1, 3, 8, 8),))
    with pytest.raises(UnsupportedError, match="antialias=True needs ONNX opset 18 or later.*--opset 18"):
        to_onnx(graph, 17)


def test_interpolate_antialias_in_another_mode_is_refused():
    with pytest.raises(UnsupportedError, match="'nearest' with antialias"):
        graphnn.trace(Wrap(lambda x: F.interpolate(x, scale_factor=0.5, mode="nearest", antialias=True)),
                      (torch.randn(1, 3, 8, 8),))


def test_interpolate_to_a_run_time_size_is_refused():
    with pytest.raises(UnsupportedError, match="size only known at run time"):
        graphnn.trace(Wrap(lambda x: F.interpolate(x, size=(x.size(0), 4))), torch.randn(2, 3, 8, 8))


def test_interpolate_area_not_dividing_is_adaptive_pooling():
    models = export_checked(Wrap(lambda x: F.interpolate(x, size=(3, 3), mode="area")), torch.randn(1, 3, 8, 8))
    assert onnx_ops(models[18]) == ["MatMul", "MatMul"]


@pytest.mark.parametrize("factor, channels", [(2, 8), (3, 9), (2, 4)])
def test_pixel_shuffle(factor, channels):
    torch.manual_seed(0)
    models = export_checked(nn.PixelShuffle(factor), torch.randn(1, channels, 3, 4))
    assert onnx_ops(models[18]) == ["DepthToSpace"]
    assert attr(models[18], "DepthToSpace", "mode") == b"CRD"


@pytest.mark.parametrize("factor, shape", [(2, (1, 3, 4, 6)), (3, (1, 2, 6, 3)), (2, (1, 1, 2, 2))])
def test_pixel_unshuffle(factor, shape):
    torch.manual_seed(0)
    models = export_checked(nn.PixelUnshuffle(factor), torch.randn(shape))
    assert onnx_ops(models[18]) == ["Reshape", "Transpose", "Reshape"]


def test_pixel_shuffle_round_trip_functional():
    torch.manual_seed(0)
    model = Wrap(lambda x: F.pixel_shuffle(F.pixel_unshuffle(x, 2) * 2, 2))
    models = export_checked(model, torch.randn(1, 3, 4, 6))
    assert onnx_ops(models[18]) == ["Reshape", "Transpose", "Reshape", "Mul", "DepthToSpace"]


@pytest.mark.parametrize("groups, shape", [(2, (1, 4, 3, 3)), (3, (1, 6, 5)), (2, (1, 4, 2, 3, 2))])
@pytest.mark.parametrize("spelling", ["layer", "F", "torch"])
def test_channel_shuffle(groups, shape, spelling):
    torch.manual_seed(0)
    model = {"layer": nn.ChannelShuffle(groups),
             "F": Wrap(lambda x: F.channel_shuffle(x, groups)),
             "torch": Wrap(lambda x: torch.channel_shuffle(x, groups))}[spelling]
    models = export_checked(model, torch.randn(shape))
    assert onnx_ops(models[18]) == ["Reshape", "Transpose", "Shape", "Reshape"]


def test_pixel_shuffle_channel_mismatch():
    with pytest.raises(ShapeError, match=r"expects input channels \(upscale_factor 2 squared\) "
                                         r"divisible by 4, gets 6"):
        graphnn.trace(nn.Sequential(nn.PixelShuffle(2)), torch.randn(1, 6, 3, 3))


def test_pixel_unshuffle_size_mismatch():
    with pytest.raises(ShapeError, match="expects width divisible by 2, gets 5"):
        graphnn.trace(nn.Sequential(nn.PixelUnshuffle(2)), torch.randn(1, 3, 4, 5))


def test_channel_shuffle_group_mismatch():
    with pytest.raises(ShapeError, match=r"expects input channels \(groups=4\) divisible by 4, gets 6"):
        graphnn.trace(nn.Sequential(nn.ChannelShuffle(4)), torch.randn(1, 6, 3, 3))
