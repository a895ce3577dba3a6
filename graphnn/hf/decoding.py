"""Decoder-only language model files as a greedy loop feeds them (``greedy.NextLogits``),
with the inputs transformers' ``generate`` gives the model, so the tokens can be equal:

- ``attention_mask`` over every token so far (left padding stays 0, each new token adds a 1);
- ``position_ids`` (where the file takes them) as ``generate`` computes them: the mask's
  cumulative sum minus one, padded positions ``MASKED_POSITION``, each new token one further;
- a with-past file gets the prompt with an empty past first (past length 0), then one token
  at a time with each step's ``present.*`` fed back as ``past_key_values.*``;
- a cache-less file gets the whole sequence again at every step (what it costs: the prompt
  and every token so far recomputed per step) and its last position's logits are read.
"""
from __future__ import annotations

import re
from typing import Optional

import numpy as np

PAST = re.compile(r"^past_key_values\.(\d+)\.(?:decoder\.)?(key|value)$")  # self-attention: grows each step
FED = ("input_ids", "attention_mask", "position_ids")  # besides the past: what a step feeds, where the file takes it
# transformers 5.23's _prepare_position_ids_for_generation fills padded positions with 0 (older
# releases with 1): no unpadded token attends to them, so either gives the same tokens
MASKED_POSITION = 0
_NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
          "tensor(bfloat16)": np.float32}


def positions(mask: np.ndarray) -> np.ndarray:
    """position_ids for every token of ``mask``, as generate computes them."""
    return np.where(mask == 0, MASKED_POSITION, mask.cumsum(-1) - 1).astype(np.int64)


class _Steps:
    """What both decoder kinds share: the session, its input names, the growing mask."""

    def __init__(self, runtime, input_ids: np.ndarray, mask: np.ndarray):
        self.runtime = runtime
        self.inputs = set(runtime.input_names)
        self.outputs = [o.name for o in runtime.session.get_outputs()]
        self.ids, self.mask = input_ids.astype(np.int64), mask.astype(np.int64)

    def _run(self, ids: np.ndarray, extra: dict) -> dict:
        feeds = {"input_ids": ids, "attention_mask": self.mask,
                 "position_ids": positions(self.mask)[:, -ids.shape[1]:], **extra}
        return dict(zip(self.outputs, self.runtime.run({k: v for k, v in feeds.items() if k in self.inputs})))

    def _grow(self, token: np.ndarray) -> None:
        self.ids = np.concatenate([self.ids, token[:, None]], axis=1)
        self.mask = np.concatenate([self.mask, np.ones_like(token)[:, None]], axis=1)


class WithPast(_Steps):
    """A file with ``past_key_values.*`` inputs: the prompt once, then one token per step."""

    def __init__(self, runtime, input_ids: np.ndarray, mask: np.ndarray):
        super().__init__(runtime, input_ids, mask)
        self.past = empty_past(runtime, input_ids.shape[0])

    def __call__(self, token: Optional[np.ndarray]) -> np.ndarray:
        if token is not None:
            self._grow(token)
        new = self.ids if token is None else token[:, None]
        results = self._run(new, self.past)
        self.past = {name.replace("present.", "past_key_values.", 1): value
                     for name, value in results.items() if name.startswith("present.")}
        return results["logits"][:, -1]


class Cacheless(_Steps):
    """A file without a past: the whole sequence so far at every step."""

    def __call__(self, token: Optional[np.ndarray]) -> np.ndarray:
        if token is not None:
            self._grow(token)
        return self._run(self.ids, {})["logits"][:, -1]


def empty_past(runtime, batch: int) -> dict:
    """Zero-length past tensors, (batch, heads, 0, head size) from the file's input shapes
    (an encoder-decoder's ``.decoder`` ones: its ``.encoder`` ones come from the encoder)."""
    past = {}
    for arg in runtime.session.get_inputs():
        if PAST.match(arg.name):
            heads, size = arg.shape[1], arg.shape[3]
            past[arg.name] = np.zeros((batch, heads, 0, size), dtype=_NUMPY.get(arg.type, np.float32))
    return past
