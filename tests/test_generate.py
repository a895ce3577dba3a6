"""Greedy generation with exported language models (issue 19): ``check --generate N`` exports
to a temporary folder and compares the file's greedy tokens with transformers' generate at
batch 1 and at batch 2 with left padding (exit 1 when they differ), ``run --generate N``
prints a file's tokens, ``graphnn.generate`` returns them, and the eos / pad ids travel in the
file's metadata. Every architecture's check is in test_llm_architectures.py, the
encoder-decoders' in test_seq2seq.py; here the sources (MODEL_PY, folders), the kinds, eos,
and the errors. Tiny random configs, never a hub."""
import re
import tempfile
import textwrap

import numpy as np
import onnx
import pytest
import torch

transformers = pytest.importorskip("transformers")

import graphnn  # noqa: E402
from graphnn.hf.greedy import TokenIds  # noqa: E402
from graphnn.hf.generation_check import torch_generate  # noqa: E402
from tests.conftest import fixture, invoke  # noqa: E402

pytestmark = pytest.mark.slow  # exports trace with torch.export: seconds

EQUAL_AT_BOTH = (r"^batch 1: tokens equal \(\d+ steps\); onnxruntime [\d.]+ tokens/s, torch [\d.]+ tokens/s$",
                 r"^batch 2 \(row 0 left-padded by 2\): tokens equal \(\d+ steps\); onnxruntime [\d.]+ tokens/s")


@pytest.fixture(scope="module")
def gpt2_file(checkpoint, tmp_path_factory):
    """(the GPT-2 folder's with-past file, the folder), exported once."""
    out = tmp_path_factory.mktemp("generate") / "gpt2.onnx"
    result = invoke(["export", checkpoint("gpt2"), out, "--task", "text-generation-with-past", "--no-parity"])
    assert result.exit_code == 0, result.output
    return out, checkpoint("gpt2")


def _model(folder):
    return transformers.AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True).eval()


def _assert_equal_at_both_batches(result):
    assert result.exit_code == 0, result.output
    for pattern in EQUAL_AT_BOTH:
        assert re.search(pattern, result.output, re.M), result.output
    assert "generation ok: 8 new tokens" in result.output


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_check_generate_on_a_model_py(tmp_path, monkeypatch, name):
    """A MODEL_PY whose model is a causal LM (its config without a cache, as the zoo's GPT-2
    has): exported with past, tokens equal at batch 1 and 2; nothing left behind."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(f"""\
        import torch, transformers
        from tests.transformer_zoo import {name}_config
        torch.manual_seed(0)
        config = {name}_config()
        config.use_cache = False
        model = transformers.AutoModelForCausalLM.from_config(config)
        example_inputs = {{"input_ids": torch.randint(0, 100, (2, 8))}}
        """))
    scratch = tmp_path / "scratch"  # this test's own temporary root: other workers' exports do not show in it
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = invoke(["check", path, "--generate", "8"])
    _assert_equal_at_both_batches(result)
    assert "decoding 8 tokens greedily with the decoder with past" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, "scratch"]
    assert not list(scratch.glob("graphnn-generate-*"))  # the export's temporary folder removed


def test_check_generate_with_a_cacheless_file_recomputes_the_sequence(checkpoint):
    result = invoke(["check", checkpoint("llama"), "--task", "text-generation", "--generate", "8"])
    _assert_equal_at_both_batches(result)
    assert "with the cache-less decoder (the whole sequence each step)" in result.stderr


def test_check_generate_fails_on_another_models_file(checkpoint, gpt2_file):
    """Llama's check against GPT-2's file (same vocabulary, other weights): exit 1, and the
    first differing step, row and both tokens named."""
    result = invoke(["check", checkpoint("llama"), "--generate", "8", "--onnx", gpt2_file[0]])
    assert result.exit_code == 1, result.output
    assert re.search(r"^batch 1: tokens differ first at step \d+, row 0: onnxruntime \d+, torch \d+;",
                     result.output, re.M), result.output
    assert "generation FAILED: 8 new tokens" in result.output


def test_check_generate_fails_when_the_file_lost_its_position_ids(gpt2_file, tmp_path):
    """The same GPT-2 file with position_ids replaced by 0..n (what the model counts without
    them): batch 1 still agrees, the left-padded row of batch 2 does not: the check sees padding."""
    model = onnx.load(str(gpt2_file[0]))
    graph = model.graph
    position = next(i for i in graph.input if i.name == "position_ids")
    graph.input.remove(position)
    past = next(i for i in graph.input if i.name == "past_key_values.0.key")
    helper = onnx.helper
    graph.node.insert(0, helper.make_node("Shape", ["input_ids"], ["gen/ids_shape"]))
    graph.node.insert(1, helper.make_node("Shape", [past.name], ["gen/past_shape"], start=2, end=3))
    graph.node.insert(2, helper.make_node("Gather", ["gen/ids_shape", "gen/one"], ["gen/new"]))
    graph.node.insert(3, helper.make_node("Squeeze", ["gen/past_shape"], ["gen/past"]))
    graph.node.insert(4, helper.make_node("Add", ["gen/past", "gen/new"], ["gen/end"]))
    graph.node.insert(5, helper.make_node("Range", ["gen/past", "gen/end", "gen/one"], ["gen/range"]))
    graph.node.insert(6, helper.make_node("Unsqueeze", ["gen/range", "gen/zero"], ["position_ids"]))
    graph.initializer.extend([onnx.numpy_helper.from_array(np.array(1, np.int64), "gen/one"),
                              onnx.numpy_helper.from_array(np.array([0], np.int64), "gen/zero")])
    tampered = tmp_path / "no_positions.onnx"
    onnx.save(model, str(tampered))
    result = invoke(["check", gpt2_file[1], "--generate", "8", "--onnx", tampered])
    assert result.exit_code == 1, result.output
    assert re.search(EQUAL_AT_BOTH[0], result.output, re.M), result.output
    assert re.search(r"^batch 2 \(row 0 left-padded by 2\): tokens differ first at step 0, row 0", result.output,
                     re.M), result.output


def test_run_generate_prints_the_tokens_torch_generates(gpt2_file):
    path, folder = gpt2_file
    result = invoke(["run", path, "--generate", "8", "--input-ids", "5,17,42,9"])
    assert result.exit_code == 0, result.output
    printed = re.search(r"^new tokens: ([\d ]+)$", result.output, re.M).group(1)
    expected, _ = torch_generate(_model(folder), {"input_ids": torch.tensor([[5, 17, 42, 9]]),
                                                  "attention_mask": torch.ones(1, 4, dtype=torch.long)},
                                 8, TokenIds((2,), 0))
    assert [int(t) for t in printed.split()] == expected[0].tolist()
    assert re.search(r"^8 new tokens in [\d.]+ s: [\d.]+ tokens/s \(decoder with past, cpu\)$", result.output, re.M)


def test_api_generates_a_left_padded_batch_as_transformers_does(gpt2_file):
    path, folder = gpt2_file
    ids = torch.tensor([[0, 0, 7, 8, 9], [11, 12, 13, 14, 15]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    tokens = graphnn.generate(str(path), ids, max_new_tokens=8, attention_mask=mask)
    with torch.no_grad():
        expected = _model(folder).generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=8)[:, 5:]
    assert tokens.dtype == np.int64 and tokens.shape == (2, 8)
    np.testing.assert_array_equal(tokens, expected.numpy())
    np.testing.assert_array_equal(graphnn.generate(str(path), [7, 8, 9], max_new_tokens=8)[0], tokens[0])


def test_the_file_carries_the_generation_ids(gpt2_file, tmp_path):
    props = {p.key: p.value for p in onnx.load(str(gpt2_file[0])).metadata_props}
    assert props == {"eos_token_id": "2", "pad_token_id": "0", "bos_token_id": "1"}  # the zoo's config
    out = tmp_path / "cnn.onnx"
    assert invoke(["export", fixture("simple_cnn.py"), out]).exit_code == 0
    assert not onnx.load(str(out)).metadata_props  # not a generator: nothing written


def test_a_row_that_ends_gets_pad_and_decoding_stops_when_all_ended(gpt2_file, tmp_path):
    """eos set (in the file's metadata) to a token each row produces: rows end there, the
    ended one gets pad, decoding stops early, as transformers' generate with that eos."""
    path, folder = gpt2_file
    ids = np.array([[5, 17, 42, 9], [60, 61, 62, 63]])
    free = graphnn.generate(str(path), ids, max_new_tokens=12)
    eos = int(free[0, 2])
    model = onnx.load(str(path))
    next(p for p in model.metadata_props if p.key == "eos_token_id").value = str(eos)
    edited = tmp_path / "eos.onnx"
    onnx.save(model, str(edited))
    tokens = graphnn.generate(str(edited), ids, max_new_tokens=12)
    expected, _ = torch_generate(_model(folder), {"input_ids": torch.from_numpy(ids),
                                                  "attention_mask": torch.ones(2, 4, dtype=torch.long)},
                                 12, TokenIds((eos,), 0))
    np.testing.assert_array_equal(tokens, expected)
    first_end = int(np.argmax(tokens[0] == eos))
    assert (tokens[0, first_end + 1:] == 0).all()  # pad after eos
    assert tokens.shape[1] < 12 or eos not in tokens[1]  # stopped when both rows ended


@pytest.mark.parametrize("args,message", [
    (["check", fixture("simple_cnn.py"), "--generate", "4"],
     "error: --generate decodes with a language model (a transformers causal LM or encoder-decoder); model in "
     "{simple_cnn} is SimpleCNN, which has no logits to decode from"),
    (["check", "{llama}", "--generate", "0"], "error: --generate 0: the number of new tokens must be at least 1"),
    (["check", "{llama}", "--generate", "4", "--json"],
     "error: --generate checks one model's tokens at batch 1 and 2; not with --json"),
    (["check", "{llama}", "--generate", "4", "--input", "2x8:int64"],
     "error: --input: not with --generate, which decodes from the task's inputs"),
    (["run", "{file}", "--generate", "4"], "error: --generate needs the prompt: --input-ids 1,2,3 (token ids, "
                                           "comma-separated)"),
    (["run", "{file}", "--input-ids", "1,2"], "error: --input-ids goes with --generate N"),
    (["run", "{file}", "--generate", "4", "--input-ids", "1,x"],
     "error: --input-ids '1,x': give token ids as non-negative integers, comma-separated (e.g. --input-ids 1,2,3)"),
    (["run", "{file}", "--generate", "-1", "--input-ids", "1"],
     "error: --generate -1: the number of new tokens must be at least 1"),
])
def test_generation_errors_are_one_line(checkpoint, gpt2_file, args, message):
    names = {"simple_cnn": fixture("simple_cnn.py"), "llama": checkpoint("llama"), "file": gpt2_file[0]}
    result = invoke([str(a).format(**names) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == message.format(**names)
    assert "Traceback" not in result.output


def test_run_generate_on_a_file_that_is_no_language_model(tmp_path):
    out = tmp_path / "cnn.onnx"
    assert invoke(["export", fixture("simple_cnn.py"), out]).exit_code == 0
    result = invoke(["run", out, "--generate", "4", "--input-ids", "1,2"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {out} is not a language model: generation needs an ONNX file with an input_ids input and a "
        f"logits output, or a folder with encoder_model.onnx and decoder_model.onnx")


def test_ids_beyond_the_vocabulary_are_one_line(gpt2_file):
    result = invoke(["run", gpt2_file[0], "--generate", "4", "--input-ids", "1,100000"])
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: onnxruntime cannot run {gpt2_file[0]} on these inputs: ") and "Traceback" not in last


def test_a_decoder_file_taking_inputs_the_loop_does_not_feed_is_one_line(tmp_path):
    """A file with input_ids in and logits out that also wants token_type_ids: refused by name
    before decoding, not an onnxruntime traceback."""
    helper = onnx.helper
    ids = helper.make_tensor_value_info("input_ids", onnx.TensorProto.INT64, ["batch", "seq"])
    types = helper.make_tensor_value_info("token_type_ids", onnx.TensorProto.INT64, ["batch", "seq"])
    logits = helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", "seq", 4])
    table = onnx.numpy_helper.from_array(np.eye(4, dtype=np.float32), "table")
    nodes = [helper.make_node("Add", ["input_ids", "token_type_ids"], ["summed"]),
             helper.make_node("Gather", ["table", "summed"], ["logits"])]
    graph = helper.make_graph(nodes, "lm", [ids, types], [logits], [table])
    path = tmp_path / "typed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(path))
    result = invoke(["run", path, "--generate", "2", "--input-ids", "1,2"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path} takes token_type_ids, which greedy decoding does not feed (it feeds input_ids, "
        f"attention_mask, position_ids and past_key_values.*)")


def test_check_generate_on_an_encoder_decoder_model_py(tmp_path):
    """A MODEL_PY holding a T5: exported as the encoder + decoder folder, its config files
    written beside them (a MODEL_PY has none to copy), tokens equal at batch 1 and 2."""
    path = tmp_path / "t5.py"
    path.write_text(textwrap.dedent("""\
        import torch, transformers
        torch.manual_seed(0)
        model = transformers.T5ForConditionalGeneration(transformers.T5Config(
            vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0,
            pad_token_id=0, eos_token_id=10, initializer_factor=5.0))
        example_inputs = {"input_ids": torch.randint(0, 100, (2, 8))}
        """))
    result = invoke(["check", path, "--generate", "8"])
    _assert_equal_at_both_batches(result)
    assert "exporting" in result.stderr and "(--task text2text-generation-with-past)" in result.stderr
