"""``check --generate``: greedy tokens of the exported files against transformers' own
``generate`` on the same prompts, at batch 1 and at batch 2 with the first row left-padded
(its prompt two tokens shorter: a batch of prompts of different lengths, as people batch
them). Both sides decode greedily with the same eos and pad ids and nothing else: the torch
side runs ``GenerationMixin.generate`` with a plain ``GenerationConfig`` standing in for the
model's own, so no logits processor the model's config sets (forced tokens, suppressed
tokens, penalties: named in a note) changes torch's tokens but not the file's."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from graphnn.hf.generate import decode
from graphnn.hf.greedy import TokenIds
from graphnn.hf.metadata import generation_ids
from graphnn.hf.seq2seq import IGNORED
from graphnn.hf.seq2seq_parts import is_speech, speech_features

PROMPT, PADDING = 6, 2  # prompt length; the left padding of the first row at batch 2
BATCHES = (1, 2)
WARM_UP = 2  # untimed new tokens each side decodes before the timed trials


@dataclass
class Trial:
    """One batch size: both sides' new tokens and seconds."""
    batch: int
    padding: int  # left padding of row 0 (0: none; speech models have no mask)
    onnx_tokens: np.ndarray
    torch_tokens: np.ndarray
    onnx_seconds: float
    torch_seconds: float

    @property
    def difference(self) -> Optional[tuple[int, int, int, int]]:
        """(step, row, onnx token, torch token) where they first differ (-1: that side had
        stopped); None when equal."""
        steps = max(self.onnx_tokens.shape[1], self.torch_tokens.shape[1])
        onnx, torch_ = (np.pad(t, ((0, 0), (0, steps - t.shape[1])), constant_values=-1)
                        for t in (self.onnx_tokens, self.torch_tokens))
        differing = np.argwhere((onnx != torch_).T)  # (step, row), by step first
        if not len(differing):
            return None
        step, row = differing[0]
        return int(step), int(row), int(onnx[row, step]), int(torch_[row, step])

    def rate(self, side: str) -> float:
        """New tokens per second, every row's counted (at batch 2, twice the steps)."""
        tokens, seconds = ((self.onnx_tokens, self.onnx_seconds) if side == "onnx"
                           else (self.torch_tokens, self.torch_seconds))
        return tokens.size / seconds if seconds else float("inf")


def token_ids(model: Any) -> TokenIds:
    return TokenIds.from_settings(generation_ids(model))


def ignored_settings(model: Any) -> list[str]:
    """Settings of the model's generation config that neither side applies."""
    config = getattr(model, "generation_config", None)
    return sorted(name for name, idle in IGNORED.items() if getattr(config, name, idle) not in (idle, [], None))


def prompts(model: Any, batch: int, ids: TokenIds) -> dict:
    """Random prompts over the vocabulary (seeded by the batch size); at batch 2 the first
    row's first PADDING tokens are padding (pad id, mask 0). Speech models: random features."""
    if is_speech(model):
        return speech_features(model, batch, seed=batch)
    vocab = model.config.get_text_config().vocab_size
    input_ids = torch.randint(0, vocab, (batch, PROMPT), generator=torch.Generator().manual_seed(batch))
    mask = torch.ones_like(input_ids)
    if batch > 1:
        input_ids[0, :PADDING], mask[0, :PADDING] = ids.pad, 0
    return {"input_ids": input_ids, "attention_mask": mask}


def torch_generate(model: Any, inputs: dict, max_new_tokens: int, ids: TokenIds) -> tuple[np.ndarray, float]:
    """(new tokens, seconds) of transformers' greedy generate with only these ids set."""
    from transformers import GenerationConfig, GenerationMixin
    plain = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                             eos_token_id=list(ids.eos) or None, pad_token_id=ids.pad,
                             decoder_start_token_id=ids.start)
    own, model.generation_config = model.generation_config, plain  # generate fills unset fields from it
    try:
        with torch.no_grad():
            began = time.perf_counter()
            out = GenerationMixin.generate(model, **inputs, generation_config=plain)  # Whisper's own forces tokens
            seconds = time.perf_counter() - began
    finally:
        model.generation_config = own
    start = 1 if model.config.is_encoder_decoder else inputs["input_ids"].shape[1]
    return out[:, start:].numpy(), seconds


def _warm_up(model: Any, path: str, device: str, ids: TokenIds) -> None:
    """Two untimed tokens each way first: the first call of either side pays for one-time work
    (torch's lazy initialisation, onnxruntime's first allocations), which made batch 1's
    tokens/s read several times lower than batch 2's."""
    inputs = prompts(model, 1, ids)
    torch_generate(model, inputs, WARM_UP, ids)
    decode(path, {k: v.numpy() for k, v in inputs.items()}, WARM_UP, device, ids)


def compare(model: Any, path: str, max_new_tokens: int, device: str = "cpu") -> list[Trial]:
    """A ``Trial`` per batch size of ``BATCHES``, decoding ``path`` (a file or folder)."""
    ids = token_ids(model)
    _warm_up(model, path, device, ids)
    trials = []
    for batch in BATCHES:
        inputs = prompts(model, batch, ids)
        expected, torch_seconds = torch_generate(model, inputs, max_new_tokens, ids)
        decoded = decode(path, {k: v.numpy() for k, v in inputs.items()}, max_new_tokens, device, ids)
        padding = int((inputs["attention_mask"][0] == 0).sum()) if "attention_mask" in inputs else 0
        trials.append(Trial(batch, padding, decoded.tokens, expected, decoded.seconds, torch_seconds))
    return trials
