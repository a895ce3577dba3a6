"""Default parity tolerances come from what the ONNX file computes (graphnn.checking.tolerances);
user-given values always win."""
import torch
import torch.nn as nn

import graphnn
from graphnn.checking import tolerances


def quantized_mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def test_float32_models_use_the_float32_tolerance():
    result = graphnn.export(nn.Linear(4, 2), torch.randn(2, 4))
    assert (result.report.atol, result.report.rtol) == (tolerances.FLOAT32.atol, tolerances.FLOAT32.rtol)


def test_quantized_models_use_the_quantized_tolerance_unless_the_user_says():
    model = quantized_mlp()
    result = graphnn.export(model, torch.randn(3, 16))
    assert result.report.ok
    assert (result.report.atol, result.report.rtol) == (tolerances.QUANTIZED.atol, tolerances.QUANTIZED.rtol)
    strict = graphnn.check_parity(model, torch.randn(3, 16), result.onnx_model, rtol=1e-6)
    assert strict.rtol == 1e-6 and strict.atol == tolerances.QUANTIZED.atol
