"""The torch side of ``text2text-generation-with-past`` (the contract, and why the encoder
computes the cross-attention keys and values, are in ``seq2seq.py``): ``parts`` splits a loaded
``...ForConditionalGeneration`` (T5, BART, Whisper) into the two modules that are traced, an
``Encoder`` and a ``DecoderStep``, each with example inputs made by running the model itself
and its dynamic dims."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from graphnn.errors import ModelLoadError
from graphnn.hf.cache import cache_keyword
from graphnn.hf.seq2seq import DECODER_FILE, ENCODER_FILE, TASK

BATCH, ENCODER_SEQ, PAST, NEW = 2, 7, 5, 3  # example sizes: every dynamic dim >= 2 (torch.export's 0/1 rule)


@dataclass(frozen=True)
class Part:
    """One file of a multi-file export: the module traced, its example inputs by keyword and
    their dynamic dims by input name."""
    file: str
    model: nn.Module
    examples: dict
    dynamic_dims: dict


class Encoder(nn.Module):
    """The model's encoder, returning ``last_hidden_state`` (a text model's or Whisper's) and
    every decoder layer's cross-attention keys and values (``present.{i}.encoder.*``).

    Those are made by the model's own decoder, run on one placeholder token with an empty
    cache: its attention layers fill the cross-attention cache exactly as decoding reads it,
    for any architecture. The rest of that run feeds no output and dce removes it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.encoder, self.decoder = model.get_encoder(), model.get_decoder()
        self.cache_field = cache_keyword(self.decoder)

    def forward(self, input_ids=None, attention_mask=None, input_features=None):
        from transformers import DynamicCache, EncoderDecoderCache
        given = dict(input_ids=input_ids, attention_mask=attention_mask, input_features=input_features)
        states = self.encoder(**{name: value for name, value in given.items() if value is not None}).last_hidden_state
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        mask = {} if attention_mask is None else {"encoder_attention_mask": attention_mask}
        placeholder = torch.zeros(states.shape[0], 1, dtype=torch.long)
        self.decoder(input_ids=placeholder, encoder_hidden_states=states, use_cache=True,
                     **{self.cache_field: cache}, **mask)
        cross = EncoderDecoderCache(DynamicCache(), cache.cross_attention_cache)  # named present.{i}.encoder.*
        return {"last_hidden_state": states, "past_key_values": cross}


class DecoderStep(nn.Module):
    """One decoding step: new tokens and the cache (self-attention, grown each step, and the
    encoder's cross-attention keys and values) in, logits and the grown self-attention cache
    out (``present.{i}.decoder.*``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.cache_field = cache_keyword(model)  # past_key_values, or cache from transformers 5.25

    def forward(self, input_ids, encoder_attention_mask=None, past_key_values=None):
        from transformers import DynamicCache, EncoderDecoderCache
        # with the cross-attention cache filled, the model reads only the encoder states' length
        # (its masks); a view of the cached keys stands in for them
        stand_in = past_key_values.cross_attention_cache.layers[0].keys[:, 0]
        mask = {} if encoder_attention_mask is None else {"attention_mask": encoder_attention_mask}
        out = self.model(decoder_input_ids=input_ids, encoder_outputs=(stand_in,), use_cache=True,
                         **{self.cache_field: past_key_values}, **mask)
        grown = out[self.cache_field].self_attention_cache
        return {"logits": out.logits, "past_key_values": EncoderDecoderCache(grown, DynamicCache())}


def is_speech(model: nn.Module) -> bool:
    """Whisper-like: the encoder reads log-mel frames, not token ids (and takes no mask)."""
    return getattr(model, "main_input_name", "input_ids") == "input_features"


def parts(model: nn.Module) -> list[Part]:
    """The encoder and decoder-step modules of ``model`` with example inputs made by running
    the model itself (encoder states, a five-token past), so any architecture's shapes are right."""
    if not getattr(model.config, "is_encoder_decoder", False):
        raise ModelLoadError(f"--task {TASK} is for encoder-decoder models; {type(model).__name__} is not one "
                             f"(use text-generation-with-past for a decoder-only model)")
    from transformers import DynamicCache
    encoder, step = Encoder(model).eval(), DecoderStep(model).eval()
    speech = is_speech(model)
    enc_inputs = speech_features(model) if speech else _tokens(model, ENCODER_SEQ, padded=True)
    enc_len = {} if speech else {1: "encoder_sequence_length"}
    with torch.no_grad():
        cross = encoder(**enc_inputs)["past_key_values"].cross_attention_cache
        mask = {} if speech else {"encoder_attention_mask": enc_inputs["attention_mask"]}
        first = step(_tokens(model, PAST)["input_ids"], **mask, past_key_values=_cache(DynamicCache(), cross))
    past = first["past_key_values"].self_attention_cache
    step_inputs = {"input_ids": _tokens(model, NEW)["input_ids"], **mask, "past_key_values": _cache(past, cross)}
    step_dims = {"input_ids": {0: "batch", 1: "sequence_length"}, **{name: {0: "batch", **enc_len} for name in mask}}
    for i in range(len(past.layers)):
        for kind in ("key", "value"):
            step_dims[f"past_key_values.{i}.decoder.{kind}"] = {0: "batch", 2: "past_sequence_length"}
            step_dims[f"past_key_values.{i}.encoder.{kind}"] = {0: "batch", **({2: enc_len[1]} if enc_len else {})}
    enc_dims = {name: {0: "batch", **enc_len} for name in enc_inputs}
    return [Part(ENCODER_FILE, encoder, enc_inputs, enc_dims), Part(DECODER_FILE, step, step_inputs, step_dims)]


def _cache(self_attention, cross_attention):
    """A fresh ``EncoderDecoderCache`` (the model grows the one it is given)."""
    from transformers import EncoderDecoderCache
    return EncoderDecoderCache(self_attention, cross_attention)



def _tokens(model: nn.Module, seq: int, padded: bool = False) -> dict:
    """Ids over the whole vocabulary; with ``padded``, a mask with padding at the end of the
    first row (parity's random draws then keep 0/1 masks)."""
    vocab = model.config.get_text_config().vocab_size
    ids = torch.randint(0, vocab, (BATCH, seq), generator=torch.Generator().manual_seed(seq))
    mask = torch.ones(BATCH, seq, dtype=torch.long)
    if padded:
        mask[0, seq - 2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def speech_features(model: nn.Module, batch: int = BATCH, seed: int = 0) -> dict:
    """Whisper's log-mel frames: twice max_source_positions (its two convolutions halve them)."""
    config = model.config
    frames = 2 * config.max_source_positions
    generator = torch.Generator().manual_seed(seed)
    return {"input_features": torch.randn(batch, config.num_mel_bins, frames, generator=generator)}


def single_file_inputs(model: nn.Module) -> dict:
    """The task's entry for one-file loading: refused, it writes a folder of two files."""
    raise ModelLoadError(f"--task {TASK} writes two files ({ENCODER_FILE}, {DECODER_FILE}): "
                         f"use `graphnn export DIR OUT_DIR`, `graphnn check DIR` or `graphnn graph DIR`")
