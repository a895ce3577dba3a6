"""Parity of the core ops the pipeline was built with: linear, conv2d, relu,
max_pool2d, reshape via x.size(0), binary add with a scalar."""
import pytest
import torch
import torch.nn as nn

from tests.parity_utils import Wrap, export_checked, onnx_ops


def test_linear_2d_uses_gemm():
    torch.manual_seed(0)
    models = export_checked(nn.Linear(10, 5), torch.randn(1, 10))
    assert all(onnx_ops(m) == ["Gemm"] for m in models.values())


def test_linear_3d_uses_matmul_add():
    torch.manual_seed(0)
    models = export_checked(nn.Linear(8, 4), torch.randn(2, 5, 8))
    assert onnx_ops(models[18]) == ["MatMul", "Add"]


def test_linear_without_bias():
    torch.manual_seed(0)
    export_checked(nn.Linear(8, 4, bias=False), torch.randn(2, 5, 8))


def test_conv_relu_pool():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, stride=2), nn.ReLU(), nn.MaxPool2d(2))
    models = export_checked(model, torch.randn(1, 3, 17, 17))
    assert onnx_ops(models[18]) == ["Conv", "Relu", "MaxPool"]


def test_view_with_traced_batch_size_keeps_batch_dynamic():
    torch.manual_seed(0)
    model = Wrap(lambda x: x.view(x.size(0), -1) + 1.5)
    models = export_checked(model, torch.randn(1, 2, 3, 4))
    assert onnx_ops(models[18]) == ["Reshape", "Add"]


def test_view_dynamic_without_optimization_uses_concat():
    torch.manual_seed(0)
    model = Wrap(lambda x: x.view(x.size(0), -1))
    models = export_checked(model, torch.randn(1, 2, 3, 4), optimize=False)
    assert "Concat" in onnx_ops(models[18])


def test_temporary_weights_are_never_mistaken_for_tied_ones():
    """Two 3-d linears with same-shaped weights: their transposed copies are temporaries that
    could reuse one address; each must keep its own initializer."""
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(64, 64) for _ in range(6)])
    models = export_checked(model, torch.randn(2, 5, 64))
    assert len(models[18].graph.initializer) == 12


def test_tied_weights_are_stored_once():
    torch.manual_seed(0)
    first, second = nn.Linear(4, 4), nn.Linear(4, 4)
    second.weight = first.weight
    models = export_checked(nn.Sequential(first, nn.ReLU(), second), torch.randn(2, 4))
    assert len(models[18].graph.initializer) == 3


@pytest.mark.parametrize("layer", [nn.Dropout(0.5), nn.Dropout1d(0.3), nn.Dropout2d(0.3), nn.Dropout3d(0.3),
                                   nn.AlphaDropout(0.2), nn.FeatureAlphaDropout(0.2), nn.Identity()],
                         ids=lambda m: type(m).__name__)
def test_eval_no_op_layers_leave_no_onnx_node(layer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6), layer, nn.ReLU())
    models = export_checked(model, torch.randn(2, 6, 6, 6, 6) if "3d" in type(layer).__name__ else torch.randn(2, 6, 6))
    assert onnx_ops(models[18]) == ["MatMul", "Add", "Relu"]
