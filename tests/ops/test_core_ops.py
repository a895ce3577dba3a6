"""Parity of the core ops the pipeline was built with: linear, conv2d, relu,
max_pool2d, reshape via x.size(0), binary add with a scalar."""
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
