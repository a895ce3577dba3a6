"""Checkpoint folders as MODEL_PY (issue 19): ``graphnn export DIR out.onnx [--task TASK]``
(and ``graph``, ``check``) where DIR holds what ``save_pretrained`` writes (config.json +
model.safetensors). The model is built offline by transformers' Auto class for the task, the
example inputs come from the task, and the task is inferred from config.architectures when
not given. Folders are made here from tiny random configs; never from a hub."""
import os

import onnx
import pytest
import torch

transformers = pytest.importorskip("transformers")

from tests.conftest import invoke  # noqa: E402

pytestmark = pytest.mark.slow  # each export traces with torch.export: seconds

CONFIGS = {  # folder: the model class and its config
    "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0)),
    "llama": lambda: transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64)),
    "bert": lambda: transformers.BertForSequenceClassification(transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64)),
    "t5": lambda: transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4)),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    for name, build in CONFIGS.items():
        build().save_pretrained(str(root / name))
    return root


def _io(path):
    graph = onnx.load(str(path)).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    return dims, [o.name for o in graph.output]


def test_causal_lm_folder_exports_with_past_by_default(folders, tmp_path):
    out = tmp_path / "gpt2.onnx"
    result = invoke(["export", folders / "gpt2", out])
    assert result.exit_code == 0, result.output
    assert "task text-generation-with-past (from GPT2LMHeadModel in" in result.output
    inputs, outputs = _io(out)
    assert inputs["past_key_values.1.key"] == ["batch", 4, "past_sequence_length", 8]
    assert inputs["attention_mask"] == ["batch", "total_sequence_length"]
    assert outputs == ["logits"] + [f"present.{i}.{p}" for i in range(2) for p in ("key", "value")]
    assert "parity ok" in result.output


def test_llama_folder_checks_with_its_task(folders):
    result = invoke(["check", folders / "llama", "--task", "text-generation-with-past"])
    assert result.exit_code == 0, result.output
    assert "past_sequence_length 6" in result.output and "present.1.value [1x2x" in result.output


def test_task_chooses_model_and_inputs(folders, tmp_path):
    out = tmp_path / "bert.onnx"
    result = invoke(["export", folders / "bert", out, "--task", "feature-extraction"])
    assert result.exit_code == 0, result.output
    inputs, outputs = _io(out)
    assert outputs == ["last_hidden_state", "pooler_output"]
    assert inputs["input_ids"] == ["batch", "sequence_length"]
    result = invoke(["graph", folders / "gpt2", "--task", "text-generation"])
    assert result.exit_code == 0, result.output
    assert "Outputs: logits [batch, sequence_length, 100] float32\n" in result.output


def test_classifier_task_is_inferred(folders):
    result = invoke(["check", folders / "bert"])
    assert result.exit_code == 0, result.output
    assert "task text-classification (from BertForSequenceClassification" in result.output
    assert "logits [2x2]" in result.output


def _error(result):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_folder_errors_are_one_line_exit_2(folders, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "folder without config.json" in _error(invoke(["export", empty, tmp_path / "x.onnx"]))
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((folders / "gpt2" / "config.json").read_text())
    assert "no weights (*.safetensors)" in _error(invoke(["graph", no_weights]))
    misfit = _error(invoke(["graph", folders / "t5", "--task", "text-generation-with-past"]))
    assert "--task text-generation-with-past does not fit" in misfit and "(t5:" in misfit
    model_py = tmp_path / "m.py"
    model_py.write_text("import torch\nmodel = torch.nn.Linear(2, 2)\nexample_inputs = (torch.randn(1, 2),)\n")
    assert "is not one" in _error(invoke(["graph", model_py, "--task", "text-generation"]))
    assert not os.path.exists(tmp_path / "x.onnx")
