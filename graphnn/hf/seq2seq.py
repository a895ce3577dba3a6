"""Encoder-decoder models (T5, BART, Whisper) as two ONNX files, as optimum writes them for
``text2text-generation-with-past``: ``encoder_model.onnx`` runs once per input,
``decoder_model.onnx`` once per generated token with its self-attention cache in and out.

The contract the generation code relies on (optimum's names):

- encoder: text models take ``input_ids`` and ``attention_mask`` (batch,
  encoder_sequence_length); speech models (Whisper) ``input_features`` (batch, num_mel_bins,
  frames; the frames are fixed by the model). Outputs ``last_hidden_state`` and every decoder
  layer's cross-attention keys and values, ``present.{i}.encoder.key`` / ``.value`` (batch,
  heads, encoder_sequence_length, head size).
- decoder: ``input_ids`` (batch, sequence_length: the new decoder tokens),
  ``encoder_attention_mask`` (text models only), the encoder's keys and values as
  ``past_key_values.{i}.encoder.key`` / ``.value`` (the same at every step) and the
  self-attention cache ``past_key_values.{i}.decoder.key`` / ``.value`` (batch, heads,
  past_sequence_length, head size); outputs ``logits`` and ``present.{i}.decoder.key`` /
  ``.value`` (past + new tokens). The first step feeds a self-attention past of length 0, so
  one file serves every step.

The choice: the cross-attention keys and values are computed once, by the encoder file, and
cached; the decoder takes them as inputs and never sees ``encoder_hidden_states``. Recomputing
them at every step instead (what graphnn did first) costs two projections of the encoder states
per step and decoder layer, 2 x batch x encoder_sequence_length x d_model^2 multiply-adds: for
T5-small (d_model 512, 6 decoder layers) and a 512-token input 1.6 GMAC per step, against about
0.04 GMAC for the new token's own layers and LM head (counted, not measured). What caching
costs: the caller holds those tensors, 2 x layers x batch x encoder_sequence_length x d_model
floats (6 MB for T5-small at 512 tokens). ``benchmarks/seq2seq_decoding.py`` measures both
(docs/benchmarks.md). Why the encoder file rather than optimum's other layout (the decoder
outputting ``present.{i}.encoder.*`` at the first step and taking them later): that needs a
"compute or reuse" branch inside the decoder, or two decoder files; here one decoder graph
serves every step and the caller only renames the encoder's ``present.*`` outputs to
``past_key_values.*`` once.

``seq2seq_parts`` makes the two modules that are traced; ``folder.load_parts`` does it for a
checkpoint folder.

``generate_seq2seq``: greedy decoding with an exported folder. The encoder runs once, then the
decoder one token at a time from ``decoder_start_token_id`` with the encoder's cross-attention
keys and values, its ``present.*`` fed back as ``past_key_values.*`` (a past of length 0 at the
first step).

End of sequence as transformers' ``generate`` handles it: a row that produced
``eos_token_id`` gets ``pad_token_id`` from then on, and decoding stops when every row has
ended or after ``max_new_tokens``. No other logits processing: this is the plain greedy loop.
For Whisper that is not what ``WhisperForConditionalGeneration.generate`` does (forced
language and task tokens, suppressed tokens, timestamps); it equals the plain greedy loop of
``GenerationMixin.generate`` with a generation config that sets none of those. Settings
that would change the tokens (``IGNORED``: forced BOS/EOS as BART's configs have, n-gram
blocking, minimum length, suppressed tokens, penalties) are not applied: a note on stderr
names them.
"""
from __future__ import annotations

import json
import os
import time
from typing import Optional

import numpy as np

from graphnn.checking.runtime import create_runtime
from graphnn.errors import InputSpecError, ModelLoadError
from graphnn.hf.decoding import empty_past
from graphnn.hf.greedy import TokenIds, greedy
from graphnn.progress import note

TASK = "text2text-generation-with-past"
ENCODER_FILE, DECODER_FILE = "encoder_model.onnx", "decoder_model.onnx"
COPIED_FILES = ("config.json", "generation_config.json")  # so the output folder describes itself
_NUMPY = {"tensor(int64)": np.int64, "tensor(float)": np.float32, "tensor(float16)": np.float16,
          "tensor(double)": np.float64}
IGNORED = {"forced_bos_token_id": None, "forced_eos_token_id": None, "forced_decoder_ids": None,
           "no_repeat_ngram_size": 0, "min_length": 0, "min_new_tokens": None, "suppress_tokens": None,
           "begin_suppress_tokens": None, "repetition_penalty": 1.0, "bad_words_ids": None}  # and their no-op values


def generate_seq2seq(onnx_dir: str, inputs: dict, max_new_tokens: int, device: str = "cpu",
                     ids: Optional[TokenIds] = None) -> tuple[np.ndarray, float]:
    """(new tokens [batch, n] with n <= max_new_tokens, seconds spent in the two files).
    ``ids``: the start, eos and pad ids; default the folder's config files'."""
    ids = ids or _token_settings(onnx_dir)
    encoder, decoder = (create_runtime(_file(onnx_dir, name), device) for name in (ENCODER_FILE, DECODER_FILE))
    missing = [name for name in encoder.input_names if name not in inputs]
    if missing:
        raise InputSpecError(f"{ENCODER_FILE} takes {', '.join(encoder.input_names)}; missing {', '.join(missing)}")
    feeds = {arg.name: np.asarray(inputs[arg.name]).astype(_NUMPY[arg.type], copy=False)
             for arg in encoder.session.get_inputs()}  # ids as int64, features as float32, whatever was given
    began = time.perf_counter()
    outputs = dict(zip([o.name for o in encoder.session.get_outputs()], encoder.run(feeds)))
    step = _DecoderSteps(decoder, outputs, feeds.get("attention_mask"), ids.start)
    tokens = greedy(step, outputs["last_hidden_state"].shape[0], max_new_tokens, ids)
    return tokens, time.perf_counter() - began


class _DecoderSteps:
    """``next_logits`` for the decoder file: the start token first, then each chosen token.
    The encoder's ``present.{i}.encoder.*`` go in as ``past_key_values.{i}.encoder.*`` at
    every step; each step's ``present.{i}.decoder.*`` come back as the next step's
    ``past_key_values.{i}.decoder.*`` (a past of length 0 at first)."""

    def __init__(self, decoder, encoded: dict, mask: Optional[np.ndarray], start: int):
        self.decoder, self.start = decoder, start
        self.batch = encoded["last_hidden_state"].shape[0]
        self.fixed = _as_past(encoded)
        if "encoder_attention_mask" in decoder.input_names:
            self.fixed["encoder_attention_mask"] = mask.astype(np.int64)
        self.past = empty_past(decoder, self.batch)
        self.outputs = [o.name for o in decoder.session.get_outputs()]

    def __call__(self, token: Optional[np.ndarray]) -> np.ndarray:
        step_ids = np.full((self.batch, 1), self.start, dtype=np.int64) if token is None else token[:, None]
        results = dict(zip(self.outputs, self.decoder.run({"input_ids": step_ids, **self.fixed, **self.past})))
        self.past = _as_past(results)
        return results["logits"][:, -1]


def _as_past(outputs: dict) -> dict:
    """A file's ``present.*`` outputs named as the decoder's ``past_key_values.*`` inputs."""
    return {name.replace("present.", "past_key_values.", 1): value
            for name, value in outputs.items() if name.startswith("present.")}


def folder_settings(onnx_dir: str) -> dict:
    """config.json's settings updated by generation_config.json's (which wins), None values dropped."""
    merged = {}
    for name in COPIED_FILES:  # generation_config.json last: it wins
        path = os.path.join(onnx_dir, name)
        if os.path.isfile(path):
            with open(path) as handle:
                merged.update({k: v for k, v in json.load(handle).items() if v is not None})
    return merged


def _token_settings(onnx_dir: str) -> TokenIds:
    """decoder_start_token_id, eos_token_id (a list, maybe empty) and pad_token_id, from
    generation_config.json where it has them, else config.json."""
    merged = folder_settings(onnx_dir)
    if merged.get("decoder_start_token_id") is None:
        raise ModelLoadError(f"{onnx_dir} has no decoder_start_token_id in {' or '.join(COPIED_FILES)}: "
                             f"export the folder with `graphnn export DIR OUT_DIR --task {TASK}`")
    ignored = sorted(name for name, idle in IGNORED.items() if merged.get(name, idle) not in (idle, [], None))
    if ignored:
        note(f"{onnx_dir}: {', '.join(ignored)} not applied (plain greedy decoding; transformers' generate "
             f"would apply them)")
    return TokenIds.from_settings(merged)


def _file(onnx_dir: str, name: str) -> str:
    path = os.path.join(onnx_dir, name)
    if not os.path.isfile(path):
        raise ModelLoadError(f"{onnx_dir} has no {name}: export it with `graphnn export DIR {onnx_dir} --task {TASK}`")
    return path
