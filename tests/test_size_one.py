"""An example batch of 1 (the usual example) is traced at 2: torch.export specializes a dim
of size 1, so a model traced at 1 has its batch frozen (HF SegFormer's reshapes); parity
still checks the user's 1, first."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn import frontend
from graphnn.inputs import model_inputs


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        b, n, c = x.shape
        return self.fc(x).reshape(b, n, 2, c // 2).transpose(1, 2)


def test_a_dynamic_dim_of_size_1_is_traced_at_2_and_checked_at_1(monkeypatch):
    seen = []
    traced_by = frontend._TRACERS["export"]
    monkeypatch.setitem(frontend._TRACERS, "export",
                        lambda model, inputs: seen.append(inputs.symbols) or traced_by(model, inputs))
    notes = []
    torch.manual_seed(0)
    result = graphnn.export(Heads(), torch.randn(1, 5, 8), frontend="export", log=notes.append)
    assert seen == [{"batch": 2}]
    assert result.ok and result.graph.symbols == {"batch": 1}
    assert [run.sizes for run in result.report.runs] == [{"batch": 1}, {"batch": 3}, {"batch": 2}]
    assert [run.inputs[0].shape[0] for run in result.report.runs] == [1, 3, 2]
    assert "tracing with batch 2, not the example's 1 (a trace at 1 would fix it); parity checks 1 too" in notes


def test_inputs_without_size_one_are_redrawn_like_the_example():
    ids = torch.tensor([[3, 5, 7]])
    inputs = model_inputs(nn.Identity(), ids, [{0: "batch"}])
    traced = inputs.without_size_one()
    assert traced.items[0].example.shape == (2, 3) and traced.items[0].dims == ((0, "batch"),)
    assert 3 <= int(traced.items[0].example.min()) and int(traced.items[0].example.max()) <= 7
    static = model_inputs(nn.Identity(), ids, [{}])
    assert static.without_size_one() is static


transformers = pytest.importorskip("transformers")


def swin():
    config = transformers.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2],
                                     window_size=4, num_labels=3)
    return transformers.SwinForImageClassification(config), 32


def segformer():
    config = transformers.SegformerConfig(hidden_sizes=[8, 16, 32, 64], num_attention_heads=[1, 1, 2, 2],
                                          depths=[1, 1, 1, 1], decoder_hidden_size=32, num_labels=3)
    return transformers.SegformerForSemanticSegmentation(config), 64


@pytest.mark.slow
@pytest.mark.parametrize("build", [swin, segformer])
def test_hf_vision_models_at_batch_1_export_with_a_dynamic_batch(build):
    torch.manual_seed(0)
    model, size = build()
    result = graphnn.export(model.eval(), {"pixel_values": torch.randn(1, 3, size, size)})
    assert result.ok, "\n".join(result.report.lines())
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in result.onnx_model.graph.input]
    assert dims == [["batch", 3, size, size]]
    assert [run.batch for run in result.report.runs] == [1, 3, 2]
