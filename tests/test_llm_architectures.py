"""Decoder-only architectures as people hold them (issue 19): a ``save_pretrained`` folder of
each of tests/transformer_zoo.py's CAUSAL_LMS exports through the CLI cache-less
(``--task text-generation``) and with its KV cache (``--task text-generation-with-past``), each
with parity; the cache file's present.* outputs at two past lengths. Then the cache file
decodes as a user runs it: an empty past and a prompt, then one token at a time with each
step's present fed back, every step's logits equal to torch's over the whole sequence.

Parametrized over ``ARCHITECTURES`` with one folder per architecture per session
(``checkpoint``, in tests/conftest.py), so more per-architecture checks join by taking the same
parameter and fixture: greedy generation (``check --generate 16``) gives transformers' tokens at
batch 1 and at batch 2 with left padding. Configs are tiny and random; never from a hub."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

transformers = pytest.importorskip("transformers")

from tests.conftest import invoke  # noqa: E402
from tests.transformer_zoo import CAUSAL_LMS  # noqa: E402

pytestmark = pytest.mark.slow  # each export traces with torch.export: seconds

ARCHITECTURES = CAUSAL_LMS  # name -> config factory
PROMPT, STEPS = 5, 3  # decoding: a 5-token prompt, then 3 tokens one by one (8 > Mistral's window of 4)


@pytest.fixture(scope="session")
def with_past(checkpoint, tmp_path_factory):
    """``with_past(name)``: (the with-past file, the export's output), exported once per session."""
    root = tmp_path_factory.mktemp("with_past")
    exported = {}

    def export(name: str):
        if name not in exported:
            out = root / f"{name}.onnx"
            result = invoke(["export", checkpoint(name), out, "--task", "text-generation-with-past"])
            assert result.exit_code == 0, result.output
            exported[name] = out, result.output
        return exported[name]
    return export


def _torch_model(folder):
    return transformers.AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True).eval()


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_cacheless_export_has_parity(checkpoint, name):
    result = invoke(["check", checkpoint(name), "--task", "text-generation"])
    assert result.exit_code == 0, result.output
    assert "parity ok" in result.output and "logits [2x8x100]" in result.output


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_with_past_export_names_its_cache_and_has_parity_at_two_past_lengths(checkpoint, with_past, name):
    path, output = with_past(name)
    assert "parity ok" in output, output
    graph = onnx.load(str(path)).graph
    layers = ARCHITECTURES[name]().num_hidden_layers
    present = [f"present.{i}.{part}" for i in range(layers) for part in ("key", "value")]
    assert [o.name for o in graph.output] == ["logits", *present]
    with torch.no_grad():  # the cache's own layout: heads and head size per architecture
        cache = _torch_model(checkpoint(name))(torch.tensor([[3, 4]]), use_cache=True)[1]  # past_key_values / cache
    keys = cache.layers[0].keys
    inputs = {i.name: _dims(i) for i in graph.input}
    assert inputs["past_key_values.1.key"] == ["batch", keys.shape[1], "past_sequence_length", keys.shape[3]]
    assert inputs["attention_mask"] == ["batch", "total_sequence_length"]
    last = re.escape(present[-1])
    pasts = set(re.findall(rf"past_sequence_length (\d+)[^:\n]*: {last} \[[^\n]* ok", output))
    assert len(pasts) >= 2, output


def _feeds(session, ids, past_length, cache):
    """One decoding step's inputs: the new ids, a mask over past and new tokens, positions
    where the file takes them, the cache."""
    batch, new = ids.shape
    feeds = {"input_ids": ids, "attention_mask": np.ones((batch, past_length + new), np.int64),
             "position_ids": np.tile(np.arange(past_length, past_length + new), (batch, 1)), **cache}
    return {i.name: feeds[i.name] for i in session.get_inputs()}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_with_past_file_decodes_step_by_step_as_torch_computes(checkpoint, with_past, name):
    """The file at past length 0, then 5, 6, 7: each step's logits are torch's for those
    positions of the whole 8-token sequence (no cache on the torch side)."""
    path, _ = with_past(name)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = torch.randint(3, 100, (2, PROMPT + STEPS), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = _torch_model(checkpoint(name))(ids, use_cache=False).logits.numpy()
    cache = {i.name: np.zeros([0 if d == "past_sequence_length" else 2 if d == "batch" else d
                               for d in i.shape], np.float32)
             for i in session.get_inputs() if i.name.startswith("past_key_values.")}
    start = 0
    for end in [PROMPT, *range(PROMPT + 1, PROMPT + STEPS + 1)]:
        logits, *present = session.run(None, _feeds(session, ids[:, start:end].numpy(), start, cache))
        np.testing.assert_allclose(logits, expected[:, start:end], atol=1e-4, err_msg=f"{name} tokens {start}:{end}")
        outputs = [o.name for o in session.get_outputs()][1:]
        cache = {name.replace("present.", "past_key_values.", 1): value for name, value in zip(outputs, present)}
        assert all(v.shape[2] == end for v in cache.values())
        start = end


def test_a_forward_taking_cache_binds_the_flat_past(tmp_path):
    """transformers 5.25 renamed the forward's ``past_key_values`` to ``cache`` (the old name
    goes through **kwargs, which torch.export's dynamic shapes cannot name): a forward with a
    ``cache`` argument takes the flat past_key_values.* inputs there."""
    path = tmp_path / "renamed.py"
    path.write_text(textwrap.dedent("""\
        import torch, transformers
        from tests.transformer_zoo import llama_config

        class Renamed(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lm = transformers.AutoModelForCausalLM.from_config(llama_config())

            def forward(self, input_ids, attention_mask, cache=None):
                out = self.lm(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache)
                return out.logits, cache

        torch.manual_seed(0)
        model = Renamed().eval()
        past = [(torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)) for _ in range(2)]
        example_inputs = {"input_ids": torch.randint(0, 100, (2, 3)),
                          "attention_mask": torch.ones(2, 8, dtype=torch.long),
                          "cache": transformers.DynamicCache(ddp_cache_data=past)}
        """))
    out = tmp_path / "renamed.onnx"
    result = invoke(["export", path, out])
    assert result.exit_code == 0, result.output
    inputs = {i.name: _dims(i) for i in onnx.load(str(out)).graph.input}
    assert inputs["past_key_values.1.value"] == ["batch", 2, "past_sequence_length", 8]
    assert "parity ok" in result.output


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_with_past_file_generates_torch_tokens_at_batch_1_and_left_padded_2(checkpoint, name):
    """The issue's acceptance: every architecture, 16 greedy tokens equal to transformers'
    generate at batch 1 and at batch 2 with the first row left-padded."""
    result = invoke(["check", checkpoint(name), "--task", "text-generation-with-past", "--generate", "16"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^batch 1: tokens equal \(\d+ steps\)", result.output, re.M), result.output
    assert re.search(r"^batch 2 \(row 0 left-padded by 2\): tokens equal", result.output, re.M), result.output
    assert "generation ok: 16 new tokens" in result.output
