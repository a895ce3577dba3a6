"""Rules for the torch.nn Transformer layers: TransformerEncoderLayer / DecoderLayer,
TransformerEncoder / Decoder and nn.Transformer.

Each is converted as torch's eval forward composes it, every sublayer by its own rule
(``b.call_module("self_attn", ...)``), so nodes carry paths like ``layers.0.self_attn`` and
the graph reads like the model. One eval-mode subtlety is reproduced: TransformerEncoder's
fast path turns a batch with a ``src_key_padding_mask`` into nested tensors and returns
zeros at the padded positions (when the mask is left-aligned, if it checks).
"""
import torch
import torch.nn as nn

from graphnn.frontend.layers.elementwise import binary
from graphnn.frontend.rules import function_rule_for, module_rule
from graphnn.ops.attention import ZERO_PADDED
from graphnn.ops.elementwise import ADD


def _activation(b, layer, x):
    act = layer.activation
    if isinstance(act, nn.Module):
        return b.call_module("activation", act, x)
    rule = function_rule_for(act)
    if rule is None:
        raise b.unsupported(f"a Transformer layer activation {getattr(act, '__name__', act)!r} "
                            f"(use 'relu', 'gelu', an nn.Module or a torch.nn.functional function)")
    return rule(b, x)


def _feed_forward(b, layer, x):
    return b.call_module("linear2", layer.linear2, _activation(b, layer, b.call_module("linear1", layer.linear1, x)))


def _attend(b, attr, attention, query, key, mask, padding, is_causal):
    out, _ = b.call_module(attr, attention, query, key, key, key_padding_mask=padding, need_weights=False,
                           attn_mask=mask, is_causal=bool(is_causal) and mask is None)
    return out


@module_rule(nn.TransformerEncoderLayer)
def encoder_layer(b, m, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
    x = src
    if m.norm_first:
        normed = b.call_module("norm1", m.norm1, x)
        x = binary(b, ADD, x, _attend(b, "self_attn", m.self_attn, normed, normed, src_mask,
                                        src_key_padding_mask, is_causal))
        return binary(b, ADD, x, _feed_forward(b, m, b.call_module("norm2", m.norm2, x)))
    x = b.call_module("norm1", m.norm1, binary(b, ADD, x, _attend(
        b, "self_attn", m.self_attn, x, x, src_mask, src_key_padding_mask, is_causal)))
    return b.call_module("norm2", m.norm2, binary(b, ADD, x, _feed_forward(b, m, x)))


@module_rule(nn.TransformerDecoderLayer)
def decoder_layer(b, m, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                  memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
    x = tgt
    if m.norm_first:
        normed = b.call_module("norm1", m.norm1, x)
        x = binary(b, ADD, x, _attend(b, "self_attn", m.self_attn, normed, normed, tgt_mask,
                                        tgt_key_padding_mask, tgt_is_causal))
        x = binary(b, ADD, x, _attend(b, "multihead_attn", m.multihead_attn, b.call_module("norm2", m.norm2, x),
                                        memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return binary(b, ADD, x, _feed_forward(b, m, b.call_module("norm3", m.norm3, x)))
    x = b.call_module("norm1", m.norm1, binary(b, ADD, x, _attend(
        b, "self_attn", m.self_attn, x, x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)))
    x = b.call_module("norm2", m.norm2, binary(b, ADD, x, _attend(
        b, "multihead_attn", m.multihead_attn, x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)))
    return b.call_module("norm3", m.norm3, binary(b, ADD, x, _feed_forward(b, m, x)))


@module_rule(nn.TransformerEncoder)
def encoder(b, m, src, mask=None, src_key_padding_mask=None, is_causal=None):
    x = src
    for i, layer in enumerate(m.layers):
        x = b.call_module(f"layers.{i}", layer, x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                          is_causal=bool(is_causal))
    if _nested_fast_path(b, m, src, mask, src_key_padding_mask):
        x = b.emit(ZERO_PADDED, [x, src_key_padding_mask], batch_first=m.layers[0].self_attn.batch_first,
                   if_left_aligned=getattr(m, "mask_check", True))
    return b.call_module("norm", m.norm, x) if m.norm is not None else x


def _nested_fast_path(b, m, src, mask, padding) -> bool:
    """torch's conditions for converting to nested tensors, as far as they do not depend on
    the data (the left-aligned check is done in the graph)."""
    return (padding is not None and mask is None and b.rank(src) == 3 and getattr(m, "use_nested_tensor", False)
            and torch.backends.mha.get_fastpath_enabled() and not torch.is_autocast_enabled())


@module_rule(nn.TransformerDecoder)
def decoder(b, m, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
    x = tgt
    for i, layer in enumerate(m.layers):
        x = b.call_module(f"layers.{i}", layer, x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                          tgt_key_padding_mask=tgt_key_padding_mask,
                          memory_key_padding_mask=memory_key_padding_mask,
                          tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
    return b.call_module("norm", m.norm, x) if m.norm is not None else x


@module_rule(nn.Transformer)
def transformer(b, m, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
    memory = b.call_module("encoder", m.encoder, src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=src_is_causal)
    return b.call_module("decoder", m.decoder, tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                         memory_is_causal=memory_is_causal)
