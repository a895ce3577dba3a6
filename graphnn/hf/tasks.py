"""Tasks as optimum names them: which transformers Auto class builds the model of a
checkpoint folder, and which example inputs it is traced with. One registry, one entry per
task; the task is inferred from ``config.architectures`` when the user gives none."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch

from graphnn.hf import seq2seq_parts
from graphnn.hf.seq2seq import TASK as SEQ2SEQ
from graphnn.hf.cache import cache_keyword

TOKEN_DIMS = {0: "batch", 1: "sequence_length"}
BATCH, SEQ, PAST = 2, 8, 5  # the examples' sizes: a past >= 2, or torch.export fixes it (0/1 rule)


@dataclass(frozen=True)
class Task:
    auto_class: Union[str, tuple]  # the transformers Auto class that builds the model (or several: the first that fits)
    inputs: Callable[[torch.nn.Module], dict]  # the example inputs, by keyword
    use_cache: bool = False  # the model returns (and, with inputs, takes) its KV cache
    parts: Optional[Callable[[torch.nn.Module], list]] = None  # written as several files (seq2seq_parts.parts)

    def dynamic_dims(self, examples: dict) -> Optional[dict]:
        """batch and sequence_length of every example (ids, mask, positions: all token-shaped);
        with a cache, the cache's defaults (``cache.cache_dims``)."""
        return None if self.use_cache else {name: dict(TOKEN_DIMS) for name in examples}


def _tokens(model: torch.nn.Module, seq: int = SEQ) -> dict:
    """Ids over the whole vocabulary and a padding mask (zeros at the end of the first row),
    so parity's draws at other sizes are valid ids and 0/1 masks too."""
    vocab = model.config.get_text_config().vocab_size
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (BATCH, seq), generator=generator)
    ids[0, 0], ids[-1, -1] = 0, vocab - 1
    mask = torch.ones(BATCH, seq, dtype=torch.long)
    mask[0, seq - 2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _causal_tokens(model: torch.nn.Module) -> dict:
    """``_tokens``, with ``position_ids`` where the forward takes them (``_positions``)."""
    tokens = _tokens(model)
    return {**tokens, **_positions(model, tokens["attention_mask"], SEQ)}


def _positions(model: torch.nn.Module, mask: torch.Tensor, new: int) -> dict:
    """``position_ids`` of the last ``new`` tokens as transformers' generate computes them from
    the mask (cumulative sum minus one, padding 0), where the forward takes them: without them
    the model counts positions from 0 whatever the padding, so a left-padded prompt (a batch
    of prompts of different lengths) would decode other tokens than generate's."""
    if "position_ids" not in inspect.signature(model.forward).parameters:
        return {}  # e.g. BLOOM: ALiBi reads the positions off the mask itself
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    return {"position_ids": positions[:, -new:]}


def _with_past(model: torch.nn.Module) -> dict:
    """Three new tokens after a past of five: the past is the model's own cache of a
    five-token prompt, so its layers, heads and head size are right for any architecture.
    A plain DynamicCache keeps all five: the default one of a sliding-window model
    (Mistral) would keep only the window, a past shorter than the mask says."""
    from transformers import DynamicCache
    keyword = cache_keyword(model)  # past_key_values, or cache from transformers 5.25 (input and output)
    prompt = _tokens(model, PAST)
    with torch.no_grad():
        past = getattr(model(**prompt, use_cache=True, **{keyword: DynamicCache()}), keyword)
    new = _tokens(model, SEQ - PAST)
    mask = torch.cat([prompt["attention_mask"], new["attention_mask"]], dim=1)
    return {"input_ids": new["input_ids"], "attention_mask": mask, **_positions(model, mask, SEQ - PAST),
            "past_key_values": past}


TASKS = {
    "feature-extraction": Task("AutoModel", _tokens),
    "text-classification": Task("AutoModelForSequenceClassification", _tokens),
    "text-generation": Task("AutoModelForCausalLM", _causal_tokens),
    "text-generation-with-past": Task("AutoModelForCausalLM", _with_past, use_cache=True),
    SEQ2SEQ: Task(("AutoModelForSeq2SeqLM", "AutoModelForSpeechSeq2Seq"), seq2seq_parts.single_file_inputs,
                  use_cache=True, parts=seq2seq_parts.parts),
}
_BY_ARCHITECTURE = (("ForCausalLM", "text-generation-with-past"), ("LMHeadModel", "text-generation-with-past"),
                    ("ForSequenceClassification", "text-classification"),
                    ("ForConditionalGeneration", SEQ2SEQ))


def inferred_task(config: Any) -> Optional[str]:
    """The task an architecture in ``config.architectures`` is for; None when none says."""
    for architecture in getattr(config, "architectures", None) or ():
        for suffix, task in _BY_ARCHITECTURE:
            if architecture.endswith(suffix):
                return task
        if architecture.endswith("Model"):
            return "feature-extraction"
    return None
