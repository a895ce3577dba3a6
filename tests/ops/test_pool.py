"""Parity of pooling: max/avg/LP pooling with padding, dilation and ceil_mode (including
the last ceil window that would start in the padding, which torch drops), adaptive pooling
to any output size (dividing the input or not, None keeping a dim, dynamic dims), global
pooling, and the functional spellings."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import UnsupportedError
from graphnn.backend.onnx.lowering.pool import adaptive_windows
from graphnn.frontend.layers.pool import per_dim
from tests.parity_utils import attr, Wrap, export_checked, onnx_ops

INPUTS = {1: (1, 3, 9), 2: (1, 3, 9, 9), 3: (1, 2, 5, 5, 5)}
MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
LP = {1: nn.LPPool1d, 2: nn.LPPool2d, 3: nn.LPPool3d}
ADAPTIVE = {("avg", 1): nn.AdaptiveAvgPool1d, ("avg", 2): nn.AdaptiveAvgPool2d,
            ("avg", 3): nn.AdaptiveAvgPool3d, ("max", 1): nn.AdaptiveMaxPool1d,
            ("max", 2): nn.AdaptiveMaxPool2d, ("max", 3): nn.AdaptiveMaxPool3d}



@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),  # 9 -> last window in the padding
    dict(kernel_size=2, dilation=2, stride=3, padding=1, ceil_mode=True),  # 5: in the padding
])
def test_max_pool(spatial, kwargs):
    torch.manual_seed(0)
    models = export_checked(MAX[spatial](**kwargs), torch.randn(INPUTS[spatial]))
    assert onnx_ops(models[18]) == ["MaxPool"]


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),  # 9 -> last window in the padding
    dict(kernel_size=1, stride=3, ceil_mode=True),  # 9 -> last window past the input
])
def test_avg_pool(spatial, count_include_pad, kwargs):
    torch.manual_seed(0)
    layer = AVG[spatial](count_include_pad=count_include_pad, **kwargs)
    models = export_checked(layer, torch.randn(INPUTS[spatial]))
    assert onnx_ops(models[18])[-1] == "AveragePool"


@pytest.mark.parametrize("layer", [nn.AvgPool2d(320, ceil_mode=True), nn.MaxPool2d(5, ceil_mode=True)])
@pytest.mark.parametrize("size", [1, 3])
def test_ceil_window_wider_than_the_input(layer, size):
    """One output, as torch gives: EfficientNet's head pools 1280 channels' 7x7 map with
    AvgPool2d(1280, ceil_mode=True) (hf/efficientnet in benchmarks/breadth.py)."""
    torch.manual_seed(0)
    models = export_checked(layer, torch.randn(2, 3, size, size))
    assert onnx_ops(models[18])[-1] in ("AveragePool", "MaxPool")


def test_window_wider_than_the_input_without_ceil_is_refused():
    with pytest.raises(graphnn.errors.ShapeError, match="input too small"):
        graphnn.trace(nn.Sequential(nn.AvgPool2d(5)), torch.randn(1, 3, 3, 3))


def test_ceil_window_starting_in_padding_drops_ceil_mode_before_opset_22():
    torch.manual_seed(0)
    layer = nn.AvgPool2d(2, 2, padding=1, ceil_mode=True)
    models = export_checked(layer, torch.randn(1, 3, 9, 9), opsets=(22, 18))
    assert attr(models[22], "AveragePool", "ceil_mode") == 1
    assert attr(models[18], "AveragePool", "ceil_mode") == 0


def test_ceil_dropping_a_window_along_one_dim_only_needs_opset_22():
    torch.manual_seed(0)
    layer = nn.MaxPool2d((2, 3), 2, padding=1, ceil_mode=True)  # 9 drops its last window, 10 keeps it
    x = torch.randn(1, 3, 9, 10)
    export_checked(layer, x, opsets=(22,))
    with pytest.raises(UnsupportedError, match="opset 22 or newer"):
        graphnn.export(layer, x, opset=18, check=False)


def test_avg_pool_divisor_override_is_refused():
    with pytest.raises(UnsupportedError, match="divisor_override"):
        graphnn.trace(nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), torch.randn(1, 3, 9, 9))


def test_max_pool_return_indices_is_refused():
    with pytest.raises(UnsupportedError, match="return_indices"):
        graphnn.trace(nn.Sequential(nn.MaxPool2d(2, return_indices=True)), torch.randn(1, 3, 9, 9))


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("p, kwargs, ops", [
    (2, dict(kernel_size=2), ["LpPool"]),
    (2, dict(kernel_size=3, stride=2), ["LpPool"]),
    (1, dict(kernel_size=2), ["Pow", "AveragePool", "Mul", "Pow"]),  # torch sums signed values
    (2, dict(kernel_size=2, ceil_mode=True), ["Pow", "AveragePool", "Mul", "Pow"]),
])
def test_lp_pool(spatial, p, kwargs, ops):
    torch.manual_seed(0)
    models = export_checked(LP[spatial](p, **kwargs), torch.randn(INPUTS[spatial]))
    assert onnx_ops(models[18]) == ops


def test_lp_pool_odd_power():
    torch.manual_seed(0)
    export_checked(nn.Sequential(nn.ReLU(), nn.LPPool2d(3, 2, ceil_mode=True)), torch.randn(1, 3, 9, 9))


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("output_size", ["one", "same", "half"])
def test_adaptive_pool(kind, spatial, output_size):
    torch.manual_seed(0)
    shape = {1: (1, 3, 8), 2: (1, 3, 8, 6), 3: (1, 2, 4, 6, 8)}[spatial]
    sizes = {"one": 1, "same": shape[2:], "half": tuple(d // 2 for d in shape[2:])}[output_size]
    models = export_checked(ADAPTIVE[kind, spatial](sizes), torch.randn(shape))
    op = {"avg": "AveragePool", "max": "MaxPool"}[kind]
    assert onnx_ops(models[18]) == [f"Global{op}" if output_size == "one" else op]


@pytest.mark.parametrize("layer, shape, kernel", [
    (nn.AdaptiveAvgPool2d((None, 1)), (1, 3, 5, 7), [1, 7]),
    (nn.AdaptiveMaxPool2d((None, None)), (1, 3, 5, 7), [1, 1]),
    (nn.AdaptiveAvgPool3d((None, 2, 1)), (1, 2, 3, 4, 5), [1, 2, 5]),
])
def test_adaptive_pool_none_keeps_the_size(layer, shape, kernel):
    torch.manual_seed(0)
    models = export_checked(layer, torch.randn(shape))
    assert attr(models[18], onnx_ops(models[18])[0], "kernel_shape") == kernel


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("shape, output_size", [
    ((1, 3, 9), 4),
    ((1, 3, 10), 7),  # overlapping windows of lengths 2 and 3
    ((1, 3, 5), 8),  # more outputs than inputs: windows repeat elements
    ((1, 3, 9, 7), (4, 3)),
    ((1, 3, 9, 7), (5, None)),
    ((1, 3, 9, 8), (4, 4)),  # dim 3 divides, dim 2 does not
    ((1, 3, 6, 7), (1, 3)),
    ((1, 2, 5, 7, 9), (2, 3, 4)),
    ((1, 2, 5, 7, 9), (3, None, 4)),
    ((1, 2, 5, 6, 7), (1, 4, None)),
])
def test_adaptive_pool_not_dividing(kind, shape, output_size):
    """Windows [floor(i*L/n), ceil((i+1)*L/n)): averages along the last two dims are a MatMul
    by a window-mean matrix (last dim first); max, and average along depth, a Slice + Reduce*
    per window and a Concat (max first dim first)."""
    torch.manual_seed(0)
    models = export_checked(ADAPTIVE[kind, len(shape) - 2](output_size), torch.randn(shape))
    reduce_op = {"avg": "ReduceMean", "max": "ReduceMax"}[kind]
    outs = per_dim(output_size, len(shape) - 2)
    pooled = [(axis, out) for axis, (size, out) in enumerate(zip(shape[2:], outs), start=2)
              if out is not None and out != size]
    expected = []
    for axis, out in pooled[::-1] if kind == "avg" else pooled:
        if out == 1:
            expected += [reduce_op]
        elif kind == "avg" and axis >= len(shape) - 2:
            expected += ["MatMul"]
        else:
            expected += ["Slice", reduce_op] * out + ["Concat"]
    assert onnx_ops(models[18]) == expected
    assert onnx_ops(models[13]) == expected


def test_adaptive_windows_are_torchs():
    assert [list(w) for w in adaptive_windows(10, 4)] == [[0, 1, 2], [2, 3, 4], [5, 6, 7], [7, 8, 9]]
    assert [list(w) for w in adaptive_windows(3, 5)] == [[0], [0, 1], [1], [1, 2], [2]]


@pytest.mark.parametrize("fn, shape", [
    (lambda x: F.adaptive_avg_pool1d(x, 5), (1, 3, 12)),
    (lambda x: F.adaptive_max_pool2d(x, (3, 5)), (1, 3, 10, 11)),
    (lambda x: F.adaptive_avg_pool3d(x, (2, None, 3)), (1, 2, 5, 6, 7)),
])
def test_functional_adaptive_pool_not_dividing(fn, shape):
    torch.manual_seed(0)
    models = export_checked(Wrap(fn), torch.randn(shape))
    assert not {"MaxPool", "AveragePool"} & set(onnx_ops(models[18]))


def test_adaptive_pool_over_a_dynamic_dim_to_one_or_kept():
    """A dynamic dim pooled to 1 is a Reduce*, a kept one is untouched; the others use the windows."""
    torch.manual_seed(0)
    dims = [{0: "batch", 2: "height", 3: "width"}]
    models = export_checked(nn.AdaptiveMaxPool2d((1, None)), torch.randn(2, 3, 9, 10), dynamic_dims=dims)
    assert onnx_ops(models[18]) == ["ReduceMax"]
    models = export_checked(nn.AdaptiveAvgPool2d((1, 3)), torch.randn(2, 3, 9, 10),
                            dynamic_dims=[{0: "batch", 2: "height"}])
    assert onnx_ops(models[18]) == ["MatMul", "ReduceMean"]
    models = export_checked(nn.AdaptiveAvgPool2d((None, None)), torch.randn(2, 3, 9, 10), dynamic_dims=dims)
    assert onnx_ops(models[18]) == ["Identity"]


@pytest.mark.parametrize("layer", [nn.AdaptiveAvgPool1d(4), nn.AdaptiveMaxPool1d(3)])
def test_adaptive_pool_of_a_dynamic_dim_to_a_fixed_size_is_refused(layer):
    with pytest.raises(UnsupportedError, match=r"dynamic dim 2 \('length'\).*make dim 2 static"):
        graphnn.trace(nn.Sequential(layer), torch.randn(2, 3, 9), dynamic_dims=[{0: "batch", 2: "length"}])


def test_adaptive_max_pool_return_indices_is_refused():
    with pytest.raises(UnsupportedError, match="return_indices"):
        graphnn.trace(nn.Sequential(nn.AdaptiveMaxPool2d(1, return_indices=True)), torch.randn(1, 3, 9, 9))


@pytest.mark.parametrize("fn, shape, op", [
    (lambda x: F.max_pool1d(x, 3, 2, 1), (1, 3, 9), "MaxPool"),
    (lambda x: F.max_pool2d(x, 2, padding=1, ceil_mode=True), (1, 3, 9, 9), "MaxPool"),
    (lambda x: F.max_pool3d(x, (1, 2, 2)), (1, 2, 5, 6, 7), "MaxPool"),
    (lambda x: torch.max_pool2d(x, 3, 2), (1, 3, 9, 9), "MaxPool"),
    (lambda x: torch.max_pool1d(x, 2), (1, 3, 9), "MaxPool"),
    (lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), (1, 3, 9), "AveragePool"),
    (lambda x: F.avg_pool2d(x, 2, ceil_mode=True), (1, 3, 9, 9), "AveragePool"),
    (lambda x: F.avg_pool3d(x, 2, 1, 1), (1, 2, 5, 6, 7), "AveragePool"),
    (lambda x: F.lp_pool1d(x, 2, 3), (1, 3, 9), "LpPool"),
    (lambda x: F.lp_pool2d(x, 2, 2), (1, 3, 9, 9), "LpPool"),
    (lambda x: F.adaptive_avg_pool1d(x, 1), (1, 3, 9), "GlobalAveragePool"),
    (lambda x: F.adaptive_avg_pool2d(x, 1), (1, 3, 9, 9), "GlobalAveragePool"),
    (lambda x: F.adaptive_avg_pool3d(x, (5, 3, 7)), (1, 2, 5, 6, 7), "AveragePool"),
    (lambda x: F.adaptive_max_pool1d(x, 3), (1, 3, 9), "MaxPool"),
    (lambda x: F.adaptive_max_pool2d(x, (1, 1)), (1, 3, 9, 9), "GlobalMaxPool"),
    (lambda x: F.adaptive_max_pool3d(x, 1), (1, 2, 5, 6, 7), "GlobalMaxPool"),
])
def test_functional_pool(fn, shape, op):
    torch.manual_seed(0)
    models = export_checked(Wrap(fn), torch.randn(shape))
    assert onnx_ops(models[18]) == [op]
