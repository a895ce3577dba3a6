"""graphnn's ONNX in the forms onnxruntime's optimizer fuses.

onnxruntime rewrites known subgraphs (GELU, LayerNorm, residual + LayerNorm, Conv +
activation) into fused kernels, but only when the subgraph has the exact shape its pattern
matcher expects: GELU's x / sqrt(2) fuses where x * (1 / sqrt(2)) does not. Each test exports
a small model, lets onnxruntime optimize it on CPU (``optimized_model_filepath``) and asserts
that the fused operator is there, so a lowering change that breaks a fusion fails here.
"""
from collections import Counter

import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

import graphnn


def fused_op_types(model: nn.Module, x: torch.Tensor, tmp_path, opset: int) -> Counter:
    path = str(tmp_path / "model.onnx")
    graphnn.export(model.eval(), (x,), path, opset=opset)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)


class Residual(nn.Module):
    """x + f(x) into a LayerNorm: onnxruntime's SkipLayerNormalization."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        return self.norm(x + self.linear(x)) * 2


def mlp(activation: nn.Module) -> nn.Module:
    # the activation is not the model's output: onnxruntime fuses nothing that writes a graph output
    return nn.Sequential(nn.Linear(16, 32), activation, nn.Linear(32, 4))


TOKENS = (2, 5, 16)
IMAGE = (1, 3, 12, 12)
CASES = {  # name: (model, input shape, the fused op onnxruntime must produce)
    "gelu": (lambda: mlp(nn.GELU()), TOKENS, "BiasGelu"),
    "gelu_tanh": (lambda: mlp(nn.GELU(approximate="tanh")), TOKENS, "FastGelu"),
    "layer_norm": (lambda: nn.Sequential(nn.Linear(16, 16), nn.LayerNorm(16), nn.Linear(16, 4)), TOKENS,
                   "LayerNormalization"),
    "rms_norm": (lambda: nn.Sequential(nn.Linear(16, 16), nn.RMSNorm(16), nn.Linear(16, 4)), TOKENS,
                 "SimplifiedLayerNormalization"),
    "residual_layer_norm": (Residual, TOKENS, "SkipLayerNormalization"),
    "conv_relu": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3)), IMAGE, "FusedConv"),
    "conv_bn_relu": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3)),
                     IMAGE, "FusedConv"),
    "conv_sigmoid": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.Sigmoid(), nn.Conv2d(8, 4, 3)), IMAGE, "FusedConv"),
    "transformer_layer": (lambda: nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True,
                                                             activation="gelu"), TOKENS, "SkipLayerNormalization"),
}


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
@pytest.mark.parametrize("name", sorted(CASES))
def test_onnxruntime_fuses_what_graphnn_emits(name, opset, tmp_path):
    torch.manual_seed(0)
    build, shape, fused = CASES[name]
    ops = fused_op_types(build(), torch.randn(*shape), tmp_path, opset)
    assert ops[fused] >= 1, f"{name} at opset {opset}: no {fused} after onnxruntime's optimizer: {dict(ops)}"


def test_transformer_layer_gelu_and_both_norms_fuse(tmp_path):
    """A whole encoder layer: both residual LayerNorms and the feed-forward GELU fuse."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, activation="gelu")
    ops = fused_op_types(nn.Sequential(layer, nn.Linear(16, 4)), torch.randn(*TOKENS), tmp_path, 18)
    assert ops["SkipLayerNormalization"] == 2 and ops["BiasGelu"] == 1, dict(ops)
    assert "Erf" not in ops and "ReduceMean" not in ops
