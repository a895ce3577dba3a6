"""Encoder-decoder models as two ONNX files (issue 19, ``text2text-generation-with-past``):
``graphnn export DIR OUT_DIR`` writes encoder_model.onnx and decoder_model.onnx (the decoder
with its self-attention cache in and out) for T5 and Whisper checkpoint folders, each file
parity-checked (the cache outputs at several past lengths), and greedy decoding with the folder
(``generate_seq2seq``) gives torch's tokens at batch 1 and 2. Tiny random configs, never a hub."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

transformers = pytest.importorskip("transformers")

from graphnn.hf.seq2seq import generate_seq2seq  # noqa: E402  (the name check --generate calls)
from tests.conftest import invoke  # noqa: E402

pytestmark = pytest.mark.slow  # each export traces two modules with torch.export: seconds

NEW_TOKENS = 16
CONFIGS = {  # folder: the model; the weights' scale makes greedy decoding vary its tokens
    "t5": lambda: transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0,
        pad_token_id=0, eos_token_id=10, initializer_factor=5.0)),
    "whisper": lambda: transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(
        vocab_size=100, num_mel_bins=8, d_model=32, encoder_layers=2, encoder_attention_heads=4,
        encoder_ffn_dim=64, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=64,
        max_source_positions=16, max_target_positions=32, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1, suppress_tokens=None, begin_suppress_tokens=None, init_std=1.0)),
    "bart": lambda: transformers.BartForConditionalGeneration(transformers.BartConfig(
        vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=None,
        forced_eos_token_id=None, init_std=0.5)),
    "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=100, n_embd=32, n_layer=1, n_head=4, n_positions=64)),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("seq2seq")
    for name, build in CONFIGS.items():
        torch.manual_seed(0)
        build().save_pretrained(str(root / name))
    return root


@pytest.fixture(scope="module")
def exported(folders):
    """name -> (the export's CLI result, OUT_DIR), the task inferred from config.json."""
    results = {}
    for name in ("t5", "whisper", "bart"):
        out = folders / f"{name}_onnx"
        results[name] = (invoke(["export", folders / name, out]), out)
    return results


def _io(path):
    graph = onnx.load(str(path)).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    return dims, [o.name for o in graph.output]


def test_t5_exports_a_folder_of_encoder_and_decoder(exported):
    result, out = exported["t5"]
    assert result.exit_code == 0, result.output
    assert "task text2text-generation-with-past (from T5ForConditionalGeneration in" in result.output
    assert sorted(os.listdir(out)) == ["config.json", "decoder_model.onnx", "encoder_model.onnx",
                                       "generation_config.json"]
    inputs, outputs = _io(out / "encoder_model.onnx")
    assert inputs == {"input_ids": ["batch", "encoder_sequence_length"],
                      "attention_mask": ["batch", "encoder_sequence_length"]}
    assert outputs == ["last_hidden_state"] + _names("present", "encoder")  # the cross-attention K/V, once
    inputs, outputs = _io(out / "decoder_model.onnx")
    assert sorted(inputs) == sorted(["input_ids", "encoder_attention_mask", *_names("past_key_values", "decoder"),
                                     *_names("past_key_values", "encoder")])  # no encoder_hidden_states
    assert inputs["input_ids"] == ["batch", "sequence_length"]
    assert inputs["encoder_attention_mask"] == ["batch", "encoder_sequence_length"]
    assert inputs["past_key_values.1.decoder.value"] == ["batch", 4, "past_sequence_length", 8]
    assert inputs["past_key_values.1.encoder.value"] == ["batch", 4, "encoder_sequence_length", 8]
    assert outputs == ["logits"] + _names("present", "decoder")
    assert result.output.count("parity ok") == 2


def _names(prefix, part, layers=2):
    return [f"{prefix}.{i}.{part}.{kind}" for i in range(layers) for kind in ("key", "value")]


def test_whisper_exports_a_folder_of_encoder_and_decoder(exported):
    result, out = exported["whisper"]
    assert result.exit_code == 0, result.output
    inputs, outputs = _io(out / "encoder_model.onnx")
    assert inputs == {"input_features": ["batch", 8, 32]}
    assert outputs == ["last_hidden_state"] + _names("present", "encoder")
    inputs, outputs = _io(out / "decoder_model.onnx")
    assert sorted(inputs) == sorted(["input_ids", *_names("past_key_values", "decoder"),
                                     *_names("past_key_values", "encoder")])
    assert inputs["past_key_values.0.encoder.key"] == ["batch", 4, 16, 8]  # Whisper's frames are fixed
    assert outputs == ["logits"] + _names("present", "decoder")
    with open(out / "generation_config.json") as handle:
        assert json.load(handle)["decoder_start_token_id"] == 1


@pytest.mark.parametrize("name, cross", [("t5", "EncDecAttention"), ("bart", "encoder_attn"),
                                         ("whisper", "encoder_attn")])
def test_cross_attention_projections_run_in_the_encoder_only(exported, name, cross):
    """The encoder file holds the decoder's cross-attention key/value weights and no other
    decoder weight (its placeholder decoder run is dead code, removed); the decoder file does
    not hold them, so no step recomputes the keys and values from the encoder states."""
    out = exported[name][1]
    encoder = {w.name for w in onnx.load(str(out / "encoder_model.onnx")).graph.initializer if len(w.dims) == 2}
    decoder = {w.name for w in onnx.load(str(out / "decoder_model.onnx")).graph.initializer if len(w.dims) == 2}
    in_encoder = sorted(w for w in encoder if w.startswith("decoder."))
    assert len(in_encoder) == 4 and all(f".{cross}." in w for w in in_encoder), in_encoder  # k, v x 2 layers
    assert not [w for w in decoder if f".{cross}.k" in w or f".{cross}.v" in w], sorted(decoder)
    assert [w for w in decoder if f".{cross}.q" in w]  # the queries are still the decoder's


SEEDS = {1: 11, 2: 2}  # inputs on which this tiny model's greedy tokens vary (and, at batch 2, one row ends)


def _t5_inputs(batch):
    ids = torch.randint(3, 100, (batch, 6), generator=torch.Generator().manual_seed(SEEDS[batch]))
    mask = torch.ones_like(ids)
    mask[0, 4:] = 0  # padding in the encoder mask (the first row, at batch 1 too)
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("batch", [1, 2])
def test_t5_greedy_tokens_equal_torch_generate(folders, exported, batch):
    model = transformers.T5ForConditionalGeneration.from_pretrained(str(folders / "t5")).eval()
    inputs = _t5_inputs(batch)
    with torch.no_grad():
        expected = model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS)[:, 1:].numpy()
    tokens, seconds = generate_seq2seq(str(exported["t5"][1]), {k: v.numpy() for k, v in inputs.items()},
                                       NEW_TOKENS)
    np.testing.assert_array_equal(tokens, expected)
    assert len(np.unique(tokens)) > 2 and seconds > 0  # not one token over and over


def test_t5_generation_handles_eos_as_generate_does(folders, exported):
    """A row that ends (eos 10) gets pad tokens after it while the other goes on; both sides agree."""
    model = transformers.T5ForConditionalGeneration.from_pretrained(str(folders / "t5")).eval()
    inputs = _t5_inputs(2)
    with torch.no_grad():
        expected = model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS)[:, 1:].numpy()
    tokens, _ = generate_seq2seq(str(exported["t5"][1]), {k: v.numpy() for k, v in inputs.items()}, NEW_TOKENS)
    np.testing.assert_array_equal(tokens, expected)
    ended = [row for row in tokens if 10 in row[:-1]]
    assert ended, tokens  # the eos path is exercised: a row ended before the last step
    assert all((row[list(row).index(10) + 1:] == 0).all() for row in ended)


@pytest.mark.parametrize("batch", [1, 2])
def test_whisper_greedy_tokens_equal_the_plain_greedy_loop(folders, exported, batch):
    """Against GenerationMixin.generate (Whisper's own generate forces language and task
    tokens, which a random tiny model has none of), with no suppressed tokens."""
    model = transformers.WhisperForConditionalGeneration.from_pretrained(str(folders / "whisper")).eval()
    features = torch.randn(batch, 8, 32, generator=torch.Generator().manual_seed(batch))
    config = transformers.GenerationConfig(decoder_start_token_id=1, eos_token_id=2, pad_token_id=0,
                                           do_sample=False, max_new_tokens=NEW_TOKENS)
    with torch.no_grad():
        expected = transformers.GenerationMixin.generate(model, input_features=features,
                                                         generation_config=config)[:, 1:].numpy()
    tokens, _ = generate_seq2seq(str(exported["whisper"][1]), {"input_features": features.numpy()}, NEW_TOKENS)
    np.testing.assert_array_equal(tokens, expected)
    assert len(np.unique(tokens)) > 2


def test_bart_exports_and_generates_torch_tokens(folders, exported):
    result, out = exported["bart"]
    assert result.exit_code == 0, result.output
    model = transformers.BartForConditionalGeneration.from_pretrained(str(folders / "bart")).eval()
    inputs = _t5_inputs(2)
    with torch.no_grad():
        expected = model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS)[:, 1:].numpy()
    tokens, _ = generate_seq2seq(str(out), {k: v.numpy() for k, v in inputs.items()}, NEW_TOKENS)
    np.testing.assert_array_equal(tokens, expected)


def test_generation_settings_it_does_not_apply_are_named(exported, tmp_path, capsys):
    """A BART-like generation config forcing BOS: the plain greedy loop says it ignores it."""
    import shutil
    folder = tmp_path / "forced"
    shutil.copytree(exported["t5"][1], folder)
    settings = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**settings, "forced_bos_token_id": 0}))
    generate_seq2seq(str(folder), {k: v.numpy() for k, v in _t5_inputs(1).items()}, 2)
    assert "forced_bos_token_id not applied (plain greedy decoding" in capsys.readouterr().err


def test_check_reports_both_files_with_the_cache_at_two_past_lengths(folders):
    result = invoke(["check", folders / "t5", "--task", "text2text-generation-with-past"])
    assert result.exit_code == 0, result.output
    assert "encoder_model.onnx:" in result.output and "decoder_model.onnx:" in result.output
    past = {line.split("past_sequence_length ")[1].split(":")[0] for line in result.output.splitlines()
            if "present.1.decoder.value" in line}
    assert len(past) >= 2, result.output


def test_check_sizes_apply_to_the_files_with_that_dim(folders):
    result = invoke(["check", folders / "t5", "--batch-sizes", "1", "--sizes", "past_sequence_length=1,9"])
    assert result.exit_code == 0, result.output
    assert "past_sequence_length 9" in result.output and "past_sequence_length 1" in result.output
    result = invoke(["check", folders / "t5", "--sizes", "frames=3"])
    assert result.exit_code == 2 and "sizes of frames asked for, but no file has that dynamic dim" in result.output


def test_graph_shows_both_parts(folders):
    result = invoke(["graph", folders / "whisper"])
    assert result.exit_code == 0, result.output
    assert "encoder_model.onnx:\n" in result.output and "decoder_model.onnx:\n" in result.output
    assert "present.1.decoder.value" in result.output and "present.1.encoder.value" in result.output


def test_task_not_fitting_the_architecture_is_one_line(folders, tmp_path):
    result = invoke(["export", folders / "gpt2", tmp_path / "out", "--task", "text2text-generation-with-past"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --task text2text-generation-with-past is for encoder-decoder models (T5, BART, Whisper); "
        f"{folders / 'gpt2'} holds gpt2, which is not one: pass --task text-generation-with-past for a "
        f"decoder-only model")
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    result = invoke(["export", folders / "t5", tmp_path / "t5.onnx", "--task", "text-generation-with-past"])
    assert result.exit_code == 2 and "does not fit" in result.output


def test_folder_output_named_like_a_file_is_refused(folders, tmp_path):
    result = invoke(["export", folders / "t5", tmp_path / "t5.onnx"])
    assert result.exit_code == 2 and "this task writes a folder" in result.output
    assert not (tmp_path / "t5.onnx").exists()


def test_folder_without_weights_or_config(folders, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((folders / "t5" / "config.json").read_text())
    result = invoke(["export", bare, tmp_path / "out"])
    assert result.exit_code == 2 and "no weights (*.safetensors)" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(["export", empty, tmp_path / "out2", "--task", "text2text-generation-with-past"])
    assert result.exit_code == 2 and "folder without config.json" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def test_generation_casts_inputs_and_names_a_missing_one(folders, exported):
    model = transformers.T5ForConditionalGeneration.from_pretrained(str(folders / "t5")).eval()
    inputs = _t5_inputs(2)
    with torch.no_grad():
        expected = model.generate(**inputs, do_sample=False, max_new_tokens=4)[:, 1:].numpy()
    given = {"input_ids": inputs["input_ids"].numpy().astype(np.int32),
             "attention_mask": inputs["attention_mask"].bool()}
    tokens, _ = generate_seq2seq(str(exported["t5"][1]), given, 4)
    np.testing.assert_array_equal(tokens, expected)
    from graphnn.errors import InputSpecError
    with pytest.raises(InputSpecError, match="takes input_ids, attention_mask; missing attention_mask"):
        generate_seq2seq(str(exported["t5"][1]), {"input_ids": given["input_ids"]}, 4)


def test_generation_needs_an_exported_folder(tmp_path):
    from graphnn.errors import ModelLoadError
    with pytest.raises(ModelLoadError, match="has no decoder_start_token_id"):
        generate_seq2seq(str(tmp_path), {"input_ids": np.zeros((1, 2), np.int64)}, 4)


@pytest.mark.parametrize("name", ["t5", "bart", "whisper"])
def test_check_generate_gives_torch_tokens_at_batch_1_and_2(folders, name):
    """``check DIR --generate 16``: the folder exported to a temporary one and decoded with
    generate_seq2seq, against transformers' plain greedy generate (batch 2: row 0's encoder
    input left-padded; Whisper: random features, no mask)."""
    result = invoke(["check", folders / name, "--generate", str(NEW_TOKENS)])
    assert result.exit_code == 0, result.output
    padded = "" if name == "whisper" else " (row 0 left-padded by 2)"
    assert "batch 1: tokens equal" in result.output and f"batch 2{padded}: tokens equal" in result.output
    assert f"generation ok: {NEW_TOKENS} new tokens" in result.output
    assert "with the encoder-decoder folder" in result.stderr


def test_check_generate_refuses_one_file_of_an_encoder_decoder(folders, exported):
    result = invoke(["check", folders / "t5", "--generate", "4", "--onnx", exported["t5"][1] / "decoder_model.onnx"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --onnx with --generate takes a decoder-only file; {folders / 't5'} is an encoder-decoder model, "
        f"which decodes from a folder: `graphnn run OUT_DIR --generate N --input-ids ...`")


def test_run_generate_with_a_folder(exported):
    out = exported["t5"][1]
    result = invoke(["run", out, "--generate", "8", "--input-ids", "5,17,42,9"])
    assert result.exit_code == 0, result.output
    tokens, _ = generate_seq2seq(str(out), {"input_ids": np.array([[5, 17, 42, 9]]),
                                            "attention_mask": np.ones((1, 4), np.int64)}, 8)
    assert f"new tokens: {' '.join(map(str, tokens[0]))}\n" in result.output
    assert "tokens/s (encoder-decoder folder, cpu)" in result.output
    result = invoke(["run", exported["whisper"][1], "--generate", "4"])
    assert result.exit_code == 0, result.output
    assert ("encoder_model.onnx takes input_features: decoding from random features of shape 1x8x32 "
            "(--input-ids are not its input)") in result.stderr
