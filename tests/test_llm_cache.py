"""Causal LMs with their KV cache (issue 19): a transformers cache returned by the model
(``use_cache=True``, every default config) becomes named ONNX outputs ``present.{i}.key`` /
``present.{i}.value`` beside ``logits``, and parity compares them with torch's cache.

Models are tiny random configs (2 layers, hidden 32) written as MODEL_PY files and driven
through the CLI as a user does; no network.
"""
import textwrap

import onnx
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


def model_py(tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(f"""\
        import torch, transformers
        torch.manual_seed(0)
        model = {MODELS[name]}
        example_inputs = {{"input_ids": torch.randint(0, 100, (2, 8)),
                          "attention_mask": torch.ones(2, 8, dtype=torch.long)}}
        """))
    return path


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
