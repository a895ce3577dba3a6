"""Real Hugging Face transformers through the torch.export frontend, with parity.

Each model of ``tests/transformer_zoo.py`` (small configs, random weights, no network) is
exported from keyword inputs as users call it, with its dynamic dims named; parity runs at
the example's batch and sequence length and at two more of each (batch 1 and 3, seq one
longer and one shorter), with ids kept in the vocabulary and 0/1 padding masks. The ONNX
inputs and outputs carry the names transformers users know (``input_ids``,
``last_hidden_state``, ``logits``...).
"""
import re

import numpy as np
import pytest

pytest.importorskip("transformers")

import graphnn  # noqa: E402
from graphnn.summary import layer_rows  # noqa: E402
from tests.parity_utils import export_checked, onnx_ops  # noqa: E402
from tests.transformer_zoo import ZOO  # noqa: E402

pytestmark = pytest.mark.slow  # seconds per test: see tests/conftest.py

EXPECTED = {  # model: (ONNX input names, output names, ONNX ops at opset 18 that show the architecture)
    "bert": (["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"],
             {"Erf", "Tanh", "LayerNormalization", "Gather"}),
    "gpt2": (["input_ids", "attention_mask"], ["logits"], {"Pow", "Tanh", "Range", "LayerNormalization"}),
    "t5_encoder": (["input_ids", "attention_mask"], ["last_hidden_state"], {"Log", "Abs", "Relu", "ReduceMean"}),
    "vit": (["pixel_values"], ["logits"], {"Conv", "Erf", "LayerNormalization"}),
    "llama": (["input_ids", "attention_mask"], ["logits"], {"Range", "Cos", "Sin", "Sigmoid", "ReduceMean"}),
    "whisper_encoder": (["input_features"], ["last_hidden_state"], {"Conv", "Erf", "LayerNormalization"}),
}


def _export(name):
    model, inputs, dims = ZOO[name]()
    return export_checked(model, inputs, dynamic_dims=dims, frontend="export"), inputs, dims


@pytest.mark.parametrize("name", ZOO)
def test_transformer_exports_with_parity(name):
    models, inputs, dims = _export(name)
    input_names, output_names, ops = EXPECTED[name]
    for opset, model in models.items():
        assert [i.name for i in model.graph.input] == input_names, opset
        assert [o.name for o in model.graph.output] == output_names, opset
        symbolic = {d.dim_param for i in model.graph.input for d in i.type.tensor_type.shape.dim if d.dim_param}
        assert symbolic == {s for spec in dims.values() for s in spec.values()}, opset
    assert ops <= set(onnx_ops(models[18])), ops - set(onnx_ops(models[18]))


def test_token_models_are_fed_padding_masks():
    """The examples hold padding (zeros), so parity's 0/1 draws at other sizes are masks too."""
    for name in ("bert", "gpt2", "t5_encoder", "llama"):
        _, inputs, dims = ZOO[name]()
        mask = inputs["attention_mask"]
        assert set(mask.unique().tolist()) == {0, 1}, name
        assert dims["attention_mask"] == {0: "batch", 1: "seq"}, name


def test_gpt2_lm_head_is_tied_to_the_token_embedding():
    model, _, _ = ZOO["gpt2"]()
    assert model.lm_head.weight is model.transformer.wte.weight


def test_gpt2_tied_weights_are_one_initializer():
    models, _, _ = _export("gpt2")
    vocab_by_hidden = [i.name for i in models[18].graph.initializer if sorted(i.dims) == [32, 100]]
    assert len(vocab_by_hidden) == 1, vocab_by_hidden


def test_layer_table_names_transformer_layers_with_their_lines():
    """`graphnn graph`: torch.nn layers show up by module path, class and the HF source line."""
    model, inputs, dims = ZOO["bert"]()
    graph = graphnn.trace(model, inputs, dynamic_dims=dims, frontend="export")
    rows = {row[0]: row for row in layer_rows(graph)}
    name, kind, shape, params, source = rows["encoder.layer.0.attention.self.query"]
    assert (kind, shape, params) == ("Linear", "[batch, seq, 32]", "1,056")
    assert re.fullmatch(r"modeling_bert\.py:\d+", source)
    assert rows["embeddings.word_embeddings"][1:4] == ("Embedding", "[batch, seq, 32]", "3,200")
    assert np.all([r[1] != "unsupported" for r in rows.values()])
    attention = rows["encoder.layer.0.attention.self"]  # its functional ops: one row, not one per ATen op
    assert attention[1] == "BertSelfAttention" and attention[2] == "[batch, seq, 32]"


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_decoders_from_input_ids_alone(name):
    """Without an attention mask, transformers 5.25 looks for packed sequences in the position
    ids with ``torch.diff`` (aten.diff): the export frontend's diff rule converts it."""
    model, inputs, _ = ZOO[name]()
    export_checked(model, {"input_ids": inputs["input_ids"]}, dynamic_dims={"input_ids": {0: "batch", 1: "seq"}},
                   frontend="export")
