"""Small Hugging Face transformers with random weights, for exporting real architectures in CI.

Every builder returns ``(model, example inputs by keyword, dynamic_dims)`` as a user would
call ``graphnn.export``. The configs are tiny (hidden size 32, two layers) so a model
exports and runs parity in about a second; the weights are random (a fixed seed), never
``from_pretrained``: CI has no network. Attention runs through ``attn_implementation="sdpa"``
(torch's F.scaled_dot_product_attention), the default users get.

Integer ids are drawn below the vocabulary size and masks hold some zeros (padding), so
parity, which keeps integer inputs within the example's range, feeds valid ids and 0/1
masks at the other sizes too.
"""
from __future__ import annotations

from typing import Callable

import torch
import transformers

ATTENTION = "sdpa"
VOCAB = 100
BATCH, SEQ = 2, 8
TOKENS = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}


def _ids(batch: int = BATCH, seq: int = SEQ) -> torch.Tensor:
    ids = torch.randint(0, VOCAB, (batch, seq))
    ids[0, 0], ids[-1, -1] = 0, VOCAB - 1  # the full range, so parity draws from all of it
    return ids


def _padding_mask(batch: int = BATCH, seq: int = SEQ) -> torch.Tensor:
    """1 for tokens, 0 for padding at the end of the first sequence."""
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[0, seq - 3:] = 0
    return mask


def _ready(model: torch.nn.Module) -> torch.nn.Module:
    return model.eval()


def bert():
    """BertModel: token type ids, padding mask, pooler (last_hidden_state, pooler_output)."""
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, attn_implementation=ATTENTION)
    token_types = torch.zeros(BATCH, SEQ, dtype=torch.long)
    token_types[:, SEQ // 2:] = 1
    inputs = {"input_ids": _ids(), "attention_mask": _padding_mask(), "token_type_ids": token_types}
    dims = {**TOKENS, "token_type_ids": {0: "batch", 1: "seq"}}
    return _ready(transformers.BertModel(config)), inputs, dims


def gpt2():
    """GPT2LMHeadModel: causal mask, learned positions, GELU tanh, an LM head tied to wte."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, use_cache=False,
        bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1, attn_implementation=ATTENTION)
    inputs = {"input_ids": _ids(), "attention_mask": _padding_mask()}
    return _ready(transformers.GPT2LMHeadModel(config)), inputs, dict(TOKENS)


def t5_encoder():
    """T5EncoderModel: relative position buckets (log, min, where), T5's RMS norm, no biases."""
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=16, use_cache=False,
        attn_implementation=ATTENTION)
    inputs = {"input_ids": _ids(), "attention_mask": _padding_mask()}
    return _ready(transformers.T5EncoderModel(config)), inputs, dict(TOKENS)


def vit():
    """ViTForImageClassification: patch conv, class token, position embeddings, logits."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, num_labels=5, attn_implementation=ATTENTION)
    inputs = {"pixel_values": torch.randn(BATCH, 3, 32, 32)}
    return _ready(transformers.ViTForImageClassification(config)), inputs, {"pixel_values": {0: "batch"}}


def llama():
    """LlamaForCausalLM: rotary cos/sin from arange, grouped-query attention (4 heads share
    2 key/value heads), RMSNorm, SiLU-gated MLP, causal + padding mask."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, use_cache=False, attn_implementation=ATTENTION)
    inputs = {"input_ids": _ids(), "attention_mask": _padding_mask()}
    return _ready(transformers.LlamaForCausalLM(config)), inputs, dict(TOKENS)


def whisper_encoder():
    """WhisperEncoder: two conv1d over log-mel frames (the second strided), GELU, sinusoidal
    positions. Whisper fixes the frame count (2 * max_source_positions), so only the batch
    is dynamic."""
    torch.manual_seed(0)
    config = transformers.WhisperConfig(
        vocab_size=VOCAB, num_mel_bins=8, d_model=32, encoder_layers=2, encoder_attention_heads=4,
        encoder_ffn_dim=64, decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=64,
        max_source_positions=16, max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1, attn_implementation=ATTENTION)
    encoder = transformers.WhisperModel(config).get_encoder()
    inputs = {"input_features": torch.randn(BATCH, 8, 32)}
    return _ready(encoder), inputs, {"input_features": {0: "batch"}}


ZOO: dict[str, Callable] = {
    "bert": bert,
    "gpt2": gpt2,
    "t5_encoder": t5_encoder,
    "vit": vit,
    "llama": llama,
    "whisper_encoder": whisper_encoder,
}


# ------------------------------------------------------------------ decoder-only language models
# Config factories of the causal LMs graphnn exports with and without a KV cache
# (tests/test_llm_architectures.py). Each is tiny (hidden 32, 2 layers, vocabulary 100) and
# shows what sets its architecture apart; models are built by AutoModelForCausalLM.from_config.
_DECODER = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
_TOKENS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)  # some defaults (Phi-3: 32000) exceed VOCAB


def gpt2_config():
    """Learned positions, fused qkv (Conv1D), GELU tanh."""
    return transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, **_TOKENS)


def llama_config():
    """Rotary, grouped-query attention (4 query heads share 2 key/value heads), RMSNorm."""
    return transformers.LlamaConfig(**_DECODER, **_TOKENS)


def mistral_config():
    """Llama's layers under a sliding window of 4 tokens: shorter than the tests' 8, so the
    window masks keys."""
    return transformers.MistralConfig(**_DECODER, **_TOKENS, sliding_window=4)


def qwen2_config():
    """Llama's layers with biases on q, k and v."""
    return transformers.Qwen2Config(**_DECODER, **_TOKENS)


def phi3_config():
    """Fused qkv and gate-up projections; partial rotary (half of each head rotates)."""
    return transformers.Phi3Config(**_DECODER, **_TOKENS, partial_rotary_factor=0.5)


def gemma_config():
    """Embeddings scaled by sqrt(hidden), RMSNorm of (1 + weight), GELU-tanh gate, head_dim
    set apart from hidden / heads."""
    return transformers.GemmaConfig(**_DECODER, **_TOKENS, head_dim=16)


def gemma2_config():
    """Gemma's layers alternating a sliding window of 4 with full attention; attention and
    final logits soft-capped (tanh)."""
    return transformers.Gemma2Config(**_DECODER, **_TOKENS, head_dim=8, sliding_window=4)


def opt_config():
    """Learned positions from cumsum(mask) with the past sliced off, ReLU, pre-LayerNorm."""
    return transformers.OPTConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                                  num_attention_heads=4, max_position_embeddings=64, word_embed_proj_dim=32,
                                  pad_token_id=1, bos_token_id=2, eos_token_id=2)


def bloom_config():
    """ALiBi (a per-head linear bias over key positions, from cumsum(mask)), fused qkv, no
    position embeddings; the cache as (batch, heads, length, head_dim) tensors."""
    return transformers.BloomConfig(vocab_size=VOCAB, hidden_size=32, n_layer=2, n_head=4, **_TOKENS)


def falcon_config():
    """Multi-query attention (one key/value head), rotary, parallel attention and MLP."""
    return transformers.FalconConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     max_position_embeddings=64, **_TOKENS)


CAUSAL_LMS: dict[str, Callable] = {
    "gpt2": gpt2_config, "llama": llama_config, "mistral": mistral_config, "qwen2": qwen2_config,
    "phi3": phi3_config, "gemma": gemma_config, "gemma2": gemma2_config, "opt": opt_config, "bloom": bloom_config,
    "falcon": falcon_config,
}
