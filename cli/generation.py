"""``check --generate N`` and ``run --generate N``: greedy decoding with the exported files,
the tokens printed or compared with transformers' generate (``graphnn.hf.generation_check``)."""
import os
import tempfile

import click
import numpy as np

from .output import progress
from graphnn.errors import InputSpecError
from graphnn.hf.generate import check_new_tokens, decode, kind_of
from graphnn.hf.generation_check import compare, ignored_settings
from graphnn.hf.generation_source import export_for_generation, load_generator
from graphnn.hf.seq2seq import ENCODER_FILE, TASK as SEQ2SEQ
from graphnn.onnxfile.read import graph_inputs, load_checked


def check_generation(model_py: str, loading, max_new_tokens: int, onnx_file, device: str, **export_options) -> bool:
    """Export into a temporary folder (or take ``onnx_file``), decode, compare; True when the
    tokens are torch's at every batch size."""
    check_new_tokens(max_new_tokens)
    model, task = load_generator(model_py, loading)
    if onnx_file and task == SEQ2SEQ:
        raise InputSpecError(f"--onnx with --generate takes a decoder-only file; {model_py} is an encoder-decoder "
                             f"model, which decodes from a folder: `graphnn run OUT_DIR --generate N --input-ids ...`")
    for name in ignored_settings(model):
        progress(f"{name} in the model's generation config is applied by neither side (plain greedy decoding)")
    with tempfile.TemporaryDirectory(prefix="graphnn-generate-") as out_dir:
        if onnx_file:
            path = onnx_file
        else:
            progress(f"exporting {model_py} (--task {task}) to decode with it")
            path = export_for_generation(model, task, model_py, out_dir, log=progress, **export_options)
        progress(f"decoding {max_new_tokens} tokens greedily with the {kind_of(path).name}")
        trials = compare(model, path, max_new_tokens, device)
    for trial in trials:
        click.echo(_trial_line(trial))
    ok = all(trial.difference is None for trial in trials)
    click.echo(f"generation {'ok' if ok else 'FAILED'}: {max_new_tokens} new tokens, greedy, onnxruntime "
               f"{'equal to' if ok else 'differs from'} transformers' generate")
    return ok


def _trial_line(trial) -> str:
    padded = f" (row 0 left-padded by {trial.padding})" if trial.padding else ""
    speed = f"onnxruntime {trial.rate('onnx'):.1f} tokens/s, torch {trial.rate('torch'):.1f} tokens/s"
    if trial.difference is None:
        return f"batch {trial.batch}{padded}: tokens equal ({trial.onnx_tokens.shape[1]} steps); {speed}"
    step, row, mine, theirs = trial.difference
    return (f"batch {trial.batch}{padded}: tokens differ first at step {step}, row {row}: onnxruntime "
            f"{_token(mine)}, torch {_token(theirs)}; {speed}")


def _token(token: int) -> str:
    return "none (stopped)" if token < 0 else str(token)


def run_generation(path: str, max_new_tokens: int, input_ids, device: str) -> None:
    """Decode from ``input_ids`` (a speech folder: random features) and print the tokens."""
    check_new_tokens(max_new_tokens)
    kind = kind_of(path)
    inputs = _feeds(path, input_ids)
    decoded = decode(path, inputs, max_new_tokens, device)
    click.echo(f"new tokens: {' '.join(map(str, decoded.tokens[0]))}")
    click.echo(f"{decoded.tokens.shape[1]} new tokens in {decoded.seconds:.3f} s: "
               f"{decoded.tokens_per_second:.1f} tokens/s ({kind.name}, {device})")


def _feeds(path: str, input_ids) -> dict:
    """The one prompt of --input-ids; for a speech encoder (input_features), random features of
    the file's shape, said in a note."""
    inputs = graph_inputs(load_checked(os.path.join(path, ENCODER_FILE))) if os.path.isdir(path) else []
    features = next((i for i in inputs if i.name == "input_features"), None)
    if features is not None:
        shape = [d.dim_value or 1 for d in features.type.tensor_type.shape.dim]
        progress(f"{ENCODER_FILE} takes input_features: decoding from random features of shape "
                 f"{'x'.join(map(str, shape))} (--input-ids are not its input)")
        return {"input_features": np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    if input_ids is None:
        raise InputSpecError("--generate needs the prompt: --input-ids 1,2,3 (token ids, comma-separated)")
    ids = np.array([parse_ids(input_ids)], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        ids = []
    if not ids or min(ids) < 0:
        raise InputSpecError(f"--input-ids {text!r}: give token ids as non-negative integers, comma-separated "
                             f"(e.g. --input-ids 1,2,3)")
    return ids
