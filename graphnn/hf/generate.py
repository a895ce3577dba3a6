"""Greedy generation with exported files: ``graphnn.generate`` and ``graphnn run --generate``.

What a path holds decides how it decodes, one entry per kind in ``KINDS`` (the first whose
test fits): a folder of ``encoder_model.onnx`` + ``decoder_model.onnx`` (``seq2seq``), a
decoder file with ``past_key_values.*`` inputs (``decoding.WithPast``), or a decoder file
without (``decoding.Cacheless``). The eos and pad ids come from the file's metadata
(``metadata.py``) or the folder's config files, unless the caller gives them.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from graphnn.checking.runtime import create_runtime
from graphnn.errors import InputSpecError
from graphnn.hf import decoding, seq2seq
from graphnn.hf.greedy import TokenIds, greedy
from graphnn.hf.metadata import read_generation_ids
from graphnn.onnxfile.read import graph_inputs, load_checked

Decode = Callable[[str, dict, int, str, Optional[TokenIds]], tuple[np.ndarray, float]]


@dataclass(frozen=True)
class Kind:
    name: str
    fits: Callable[[str], bool]  # the path holds this kind
    decode: Decode  # (path, inputs, max_new_tokens, device, ids) -> (new tokens, seconds decoding)


def _is_seq2seq(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, seq2seq.ENCODER_FILE))


def _decoder_names(path: str) -> tuple[set, set]:
    """(input names, output names) of a decoder file; empty sets for anything else."""
    if not (os.path.isfile(path) and path.endswith(".onnx")):
        return set(), set()
    model = load_checked(path)
    return {i.name for i in graph_inputs(model)}, {o.name for o in model.graph.output}


def _is_decoder(path: str, with_past: bool) -> bool:
    inputs, outputs = _decoder_names(path)
    has_past = any(decoding.PAST.match(name) for name in inputs)
    return "input_ids" in inputs and "logits" in outputs and has_past == with_past


def _decoder(steps: type) -> Decode:
    def decode(path: str, inputs: dict, max_new_tokens: int, device: str, ids: Optional[TokenIds]):
        ids = ids or TokenIds.from_settings(read_generation_ids(load_checked(path)))
        runtime = create_runtime(path, device)
        unfed = [name for name in runtime.input_names if name not in decoding.FED and not decoding.PAST.match(name)]
        if unfed:
            raise InputSpecError(f"{path} takes {', '.join(unfed)}, which greedy decoding does not feed (it feeds "
                                 f"{', '.join(decoding.FED)} and past_key_values.*)")
        if inputs.get("input_ids") is None:
            raise InputSpecError(f"{path} decodes from a prompt: give input_ids (--input-ids 1,2,3)")
        input_ids = np.asarray(inputs["input_ids"])
        mask = inputs.get("attention_mask")
        mask = np.ones_like(input_ids) if mask is None else np.asarray(mask)
        began = time.perf_counter()
        tokens = greedy(steps(runtime, input_ids, mask), input_ids.shape[0], max_new_tokens, ids)
        return tokens, time.perf_counter() - began
    return decode


def _seq2seq(path: str, inputs: dict, max_new_tokens: int, device: str, ids: Optional[TokenIds]):
    return seq2seq.generate_seq2seq(path, inputs, max_new_tokens, device, ids)


KINDS = (
    Kind("encoder-decoder folder", _is_seq2seq, _seq2seq),
    Kind("decoder with past", lambda path: _is_decoder(path, with_past=True), _decoder(decoding.WithPast)),
    Kind("cache-less decoder (the whole sequence each step)", lambda path: _is_decoder(path, with_past=False),
         _decoder(decoding.Cacheless)),
)


def kind_of(path: str) -> Kind:
    """The kind ``path`` holds; a one-line error for anything else."""
    if not os.path.exists(path):
        raise InputSpecError(f"{path} does not exist")
    found = next((kind for kind in KINDS if kind.fits(path)), None)
    if found is None:
        raise InputSpecError(f"{path} is not a language model: generation needs an ONNX file with an input_ids "
                             f"input and a logits output, or a folder with {seq2seq.ENCODER_FILE} and "
                             f"{seq2seq.DECODER_FILE}")
    return found


@dataclass
class Decoded:
    tokens: np.ndarray  # [batch, n], n <= max_new_tokens
    seconds: float  # in onnxruntime, sessions made beforehand
    kind: str

    @property
    def tokens_per_second(self) -> float:
        return self.tokens.size / self.seconds if self.seconds else float("inf")


def decode(path: str, inputs: dict, max_new_tokens: int, device: str = "cpu",
           ids: Optional[TokenIds] = None) -> Decoded:
    """Greedy decoding of ``max_new_tokens`` with the file or folder at ``path``; ``inputs``
    by name (``input_ids``, ``attention_mask``, a speech encoder's ``input_features``)."""
    check_new_tokens(max_new_tokens)
    kind = kind_of(path)
    try:
        tokens, seconds = kind.decode(path, inputs, max_new_tokens, device, ids)
    except _RUNTIME_ERRORS as exc:  # ids beyond the vocabulary, a mask of another length...
        reason = " ".join(str(exc).split())[:300]
        raise InputSpecError(f"onnxruntime cannot run {path} on these inputs: {reason}") from None
    return Decoded(tokens, seconds, kind.name)


def check_new_tokens(max_new_tokens: int) -> None:
    """Refuse a count of new tokens below 1 (the CLI asks before exporting anything)."""
    if max_new_tokens < 1:
        raise InputSpecError(f"--generate {max_new_tokens}: the number of new tokens must be at least 1")


def generate(path: str, input_ids: Any = None, max_new_tokens: int = 16, attention_mask: Any = None,
             device: str = "cpu", input_features: Any = None) -> np.ndarray:
    """The new tokens ([batch, n], n <= max_new_tokens: rows that produced eos get pad after it,
    and decoding stops when all rows ended) of greedy decoding with an exported language model.

    ``path``: a decoder file (``--task text-generation-with-past`` or ``text-generation``) or an
    encoder-decoder folder (``text2text-generation-with-past``). ``input_ids``: [batch, length]
    (or [length]), the prompt, or the encoder's ids for a folder; ``attention_mask`` the same
    shape (zeros on the left for a padded prompt; default all ones). A speech encoder (Whisper)
    takes ``input_features`` instead. ``device``: cpu, cuda or auto.
    """
    inputs = {name: _batched(value) for name, value in (("input_ids", input_ids), ("attention_mask", attention_mask),
                                                        ("input_features", input_features)) if value is not None}
    if "input_ids" in inputs and "attention_mask" not in inputs:
        inputs["attention_mask"] = np.ones_like(inputs["input_ids"])
    return decode(str(path), inputs, max_new_tokens, device).tokens


def _batched(value: Any) -> np.ndarray:
    array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    return array[None] if array.ndim == 1 else array


def _runtime_errors() -> tuple:
    from onnxruntime.capi import onnxruntime_pybind11_state as state
    return tuple(getattr(state, name) for name in ("Fail", "InvalidArgument", "RuntimeException", "InvalidGraph")
                 if hasattr(state, name))


_RUNTIME_ERRORS = _runtime_errors()
