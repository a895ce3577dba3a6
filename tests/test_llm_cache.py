"""Causal LMs with their KV cache (issue 19): a transformers cache returned by the model
(``use_cache=True``, every default config) becomes named ONNX outputs ``present.{i}.key`` /
``present.{i}.value`` beside ``logits``, and parity compares them with torch's cache. A
cache among the example inputs becomes flat inputs ``past_key_values.{i}.key`` / ``.value``
with a dynamic ``past_sequence_length``, so one file serves every decoding step.

Models are tiny random configs (2 layers, hidden 32) written as MODEL_PY files and driven
through the CLI as a user does; no network.
"""
import re
import textwrap

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

transformers = pytest.importorskip("transformers")

from graphnn.tensors import flatten_outputs, named_outputs  # noqa: E402
from tests.conftest import invoke  # noqa: E402

pytestmark = pytest.mark.slow  # each export traces with torch.export: seconds

MODELS = {  # name: the config line of a MODEL_PY (default use_cache=True)
    "gpt2": "transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, "
            "n_head=4, n_positions=64))",
    "llama": "transformers.LlamaForCausalLM(transformers.LlamaConfig(vocab_size=100, hidden_size=32, "
             "intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, "
             "max_position_embeddings=64))",
}
PRESENT = [f"present.{i}.{part}" for i in range(2) for part in ("key", "value")]


def model_py(tmp_path, name, past=""):
    """A MODEL_PY of the model; ``past``: the example's past_key_values (a Python expression)."""
    path = tmp_path / f"{name}.py"
    seq, total = (3, 8) if past else (8, 8)
    path.write_text(textwrap.dedent(f"""\
        import torch, transformers
        torch.manual_seed(0)
        model = {MODELS[name]}
        example_inputs = {{"input_ids": torch.randint(0, 100, (2, {seq})),
                          "attention_mask": torch.ones(2, {total}, dtype=torch.long)}}
        """) + (f"example_inputs['past_key_values'] = {past}\n" if past else ""))
    return path


def _past(kv_heads, legacy=False):
    pairs = f"[(torch.randn(2, {kv_heads}, 5, 8), torch.randn(2, {kv_heads}, 5, 8)) for _ in range(2)]"
    return f"tuple({pairs})" if legacy else f"transformers.DynamicCache(ddp_cache_data={pairs})"


@pytest.mark.parametrize("name,kv_heads", [("gpt2", 4), ("llama", 2)])
def test_default_config_causal_lm_exports_its_cache_with_parity(tmp_path, name, kv_heads):
    out = tmp_path / f"{name}.onnx"
    result = invoke(["export", model_py(tmp_path, name), out])
    assert result.exit_code == 0, result.output
    outputs = onnx.load(str(out)).graph.output
    assert [o.name for o in outputs] == ["logits", *PRESENT]
    key_dims = [d.dim_param or d.dim_value for d in outputs[1].type.tensor_type.shape.dim]
    assert key_dims == ["batch", kv_heads, 8, 8]
    for present in PRESENT:  # parity compared each cache tensor, at each batch size
        assert result.output.count(f": {present} [") == 3, result.output


def test_graph_shows_the_cache_outputs(tmp_path):
    result = invoke(["graph", model_py(tmp_path, "gpt2")])
    assert result.exit_code == 0, result.output
    assert "present.1.value [batch, 4, 8, 8] float32" in result.output


def _dynamic_cache(layers):
    cache = transformers.DynamicCache()
    for i in range(layers):
        cache.update(torch.full((1, 2, 3, 4), float(i)), torch.full((1, 2, 3, 4), -float(i)), i)
    return cache


def test_caches_are_named_as_optimum_names_them():
    dynamic = _dynamic_cache(2)
    out = {"logits": torch.zeros(1), "past_key_values": dynamic}
    assert [n for n, _ in named_outputs(out)] == ["logits", *PRESENT]
    assert [t.flatten()[0].item() for t in flatten_outputs(out)] == [0, 0, -0, 1, -1]
    legacy = {"logits": torch.zeros(1), "past_key_values": tuple((k, v) for k, v in
                                                                  [(torch.ones(1), torch.ones(1))] * 2)}
    assert [n for n, _ in named_outputs(legacy)] == ["logits", *PRESENT]
    both = transformers.EncoderDecoderCache(_dynamic_cache(1), _dynamic_cache(1))
    assert [n for n, _ in named_outputs({"past_key_values": both})] == [
        "present.0.decoder.key", "present.0.decoder.value", "present.0.encoder.key", "present.0.encoder.value"]


@pytest.mark.parametrize("name,kv_heads,legacy", [("gpt2", 4, True), ("llama", 2, False)])
def test_cache_inputs_export_one_file_for_every_step(tmp_path, name, kv_heads, legacy):
    """Flat cache inputs with a dynamic past length; parity at past lengths 5, 6 and 4; the
    same file run with an empty past (the first step) gives torch's cache-less outputs."""
    out = tmp_path / f"{name}_past.onnx"
    result = invoke(["export", model_py(tmp_path, name, _past(kv_heads, legacy)), out])
    assert result.exit_code == 0, result.output
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in onnx.load(str(out)).graph.input}
    past = [f"past_key_values.{i}.{part}" for i in range(2) for part in ("key", "value")]
    assert sorted(inputs) == sorted(["input_ids", "attention_mask", *past])  # in forward's order
    assert inputs["attention_mask"] == ["batch", "total_sequence_length"]
    assert inputs["past_key_values.1.value"] == ["batch", kv_heads, "past_sequence_length", 8]
    for length in (5, 6, 4):
        assert re.search(rf"past_sequence_length {length}\b[^:]*: present\.1\.value .* ok", result.output), length

    torch.manual_seed(0)  # as the MODEL_PY: the same weights
    model = eval(MODELS[name], {"transformers": transformers}).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    feeds = {"input_ids": ids.numpy(), "attention_mask": np.ones((1, 4), np.int64),
             **{p: np.zeros((1, kv_heads, 0, 8), np.float32) for p in past}}
    logits, *present = ort.InferenceSession(str(out)).run(None, feeds)
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(present[-1], expected.past_key_values.layers[1].values.numpy(), atol=1e-4)
