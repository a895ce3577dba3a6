"""graphnn's ONNX in the forms onnxruntime's optimizer fuses.

onnxruntime rewrites known subgraphs (GELU, LayerNorm, Conv + activation) into fused kernels,
but only when the subgraph has the exact shape its pattern matcher expects: GELU's x / sqrt(2)
fuses where x * (1 / sqrt(2)) does not. Each test exports a small model, lets onnxruntime
optimize it on CPU (``optimized_model_filepath``) and asserts that the fused operator is there,
so a lowering change that breaks a fusion fails here.

One fusion is avoided on purpose: residual Add + LayerNormalization into
SkipLayerNormalization, whose CPU kernel is slower than the two nodes (lowering ``add``).
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
    """x + f(x) into a LayerNorm: a LayerNormalization, not onnxruntime's SkipLayerNormalization."""

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
    "residual_layer_norm": (Residual, TOKENS, "LayerNormalization"),
    "conv_relu": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3)), IMAGE, "FusedConv"),
    "conv_bn_relu": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3)),
                     IMAGE, "FusedConv"),
    "conv_sigmoid": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.Sigmoid(), nn.Conv2d(8, 4, 3)), IMAGE, "FusedConv"),
    "transformer_layer": (lambda: nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True,
                                                             activation="gelu"), TOKENS, "BiasGelu"),
}


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
@pytest.mark.parametrize("name", sorted(CASES))
def test_onnxruntime_fuses_what_graphnn_emits(name, opset, tmp_path):
    torch.manual_seed(0)
    build, shape, fused = CASES[name]
    ops = fused_op_types(build(), torch.randn(*shape), tmp_path, opset)
    assert ops[fused] >= 1, f"{name} at opset {opset}: no {fused} after onnxruntime's optimizer: {dict(ops)}"
    assert "SkipLayerNormalization" not in ops, f"{name} at opset {opset}: {dict(ops)}"


@pytest.mark.parametrize("opset", [13, 18])
def test_transformer_layer_gelu_fuses_and_both_norms_stay_layer_norms(opset, tmp_path):
    """A whole encoder layer: the feed-forward GELU fuses; both residual LayerNorms become
    LayerNormalization (at opset 13 from their decomposition) and stay apart from their Adds."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, activation="gelu")
    ops = fused_op_types(nn.Sequential(layer, nn.Linear(16, 4)), torch.randn(*TOKENS), tmp_path, opset)
    assert ops["LayerNormalization"] == 2 and ops["Sum"] == 2 and ops["BiasGelu"] == 1, dict(ops)
    assert "SkipLayerNormalization" not in ops and "Erf" not in ops and "ReduceMean" not in ops


def test_an_add_read_by_more_than_the_layer_norm_stays_an_add(tmp_path):
    """Pre-norm residuals (the sum also feeds the next residual, so onnxruntime does not fuse
    it) stay plain Adds."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=True)
    path = str(tmp_path / "pre_norm.onnx")
    graphnn.export(layer.eval(), (torch.randn(*TOKENS),), path)
    assert "Sum" not in {node.op_type for node in onnx.load(path).graph.node}
