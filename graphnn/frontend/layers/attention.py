"""Rules for attention: F.scaled_dot_product_attention and nn.MultiheadAttention, both onto
one ``attention`` op (softmax(q k^T * scale + mask) v) that the backend lowers to the
MatMul / Softmax composition.

The two torch spellings disagree on masks, and the rules absorb that: SDPA's bool mask keeps
True positions and gives zeros for a query whose every key is masked; MultiheadAttention's
bool masks (``attn_mask``, ``key_padding_mask``) mark positions to *ignore* and give NaN there.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.elementwise import binary, cast, promote
from graphnn.frontend.layers.shape import emit_reshape, transpose
from graphnn.frontend.rules import Ref, function_rule, method_rule_for, module_rule
from graphnn.ops.attention import ATTENTION
from graphnn.ops.elementwise import ADD, LOGICAL_AND, LOGICAL_NOT, WHERE
from graphnn.ops.linear import LINEAR
from graphnn.ops.structural import SIZE


@function_rule(F.scaled_dot_product_attention)
def scaled_dot_product_attention(b, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    if dropout_p:
        raise b.unsupported(f"scaled_dot_product_attention with dropout_p={dropout_p} (torch applies it even in "
                            f"eval mode: pass dropout_p=0.0 when not training)")
    if is_causal and attn_mask is not None:
        raise b.unsupported("is_causal together with attn_mask (torch refuses it too)")
    query, key, value = promote(b, query, key, value)
    inputs = [query, key, value] + ([_sdpa_mask(b, attn_mask, b.dtype(query))] if attn_mask is not None else [])
    return b.emit(ATTENTION, inputs, scale=_scale(b, query, scale), causal=bool(is_causal),
                  gqa=bool(enable_gqa), masked_rows="zero", weights=False)


def _sdpa_mask(b, mask, dtype):
    if not isinstance(mask, Ref):
        raise b.unsupported("an attention mask that is not a tensor")
    return mask if b.dtype(mask) == "bool" else cast(b, mask, dtype)


def _scale(b, query, scale):
    if scale is not None:
        return float(scale)
    width = b.shape(query)[-1]
    if not isinstance(width, int):
        raise b.unsupported("attention over a dynamic embedding size without an explicit scale")
    return 1.0 / math.sqrt(width)


# ------------------------------------------------------------------ nn.MultiheadAttention
@module_rule(nn.MultiheadAttention)
def multihead_attention(b, m, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                        average_attn_weights=True, is_causal=False):
    _check_supported(b, m, query)
    heads, width = m.num_heads, m.head_dim
    q, k, v = (x if m.batch_first else transpose(b, x, 0, 1) for x in (query, key, value))  # (B, L, E)
    wq, wk, wv, bq, bk, bv = _projections(m)
    q, k, v = (_split_heads(b, b.emit(LINEAR, [x], params={"weight": w, "bias": bias}), heads, width)
               for x, w, bias in ((q, wq, bq), (k, wk, bk), (v, wv, bv)))
    mask = _mha_mask(b, attn_mask, key_padding_mask, heads, b.dtype(q))
    causal = bool(is_causal) and attn_mask is None
    outputs = b.emit(ATTENTION, [q, k, v] + ([mask] if mask is not None else []), num_outputs=2 if need_weights else 1,
                     scale=1.0 / math.sqrt(width), causal=causal, gqa=False, masked_rows="nan",
                     weights=bool(need_weights))
    attended, weights = (outputs if need_weights else (outputs, None))
    merged = emit_reshape(b, transpose(b, attended, 1, 2), ["same", "same", m.embed_dim])  # (B, L, E)
    out = b.emit(LINEAR, [merged], params={"weight": m.out_proj.weight, "bias": m.out_proj.bias})
    out = out if m.batch_first else transpose(b, out, 0, 1)
    if need_weights and average_attn_weights:
        weights = method_rule_for("mean")(b, weights, 1)
    return out, weights


def _check_supported(b, m, query):
    if m.bias_k is not None or m.add_zero_attn:
        raise b.unsupported("nn.MultiheadAttention with add_bias_kv or add_zero_attn (rarely used; "
                            "write the extra key/value row into the inputs instead)")
    if b.rank(query) != 3:
        raise b.unsupported(f"nn.MultiheadAttention on a {b.rank(query)}-d (unbatched) input: add a batch dim")


def _projections(m):
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight.chunk(3)
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    biases = m.in_proj_bias.chunk(3) if m.in_proj_bias is not None else (None, None, None)
    return (wq, wk, wv, *biases)


def _split_heads(b, x, heads, width):
    """(B, L, H*W) -> (B, H, L, W)."""
    return transpose(b, emit_reshape(b, x, ["same", "same", heads, width]), 1, 2)


def _mha_mask(b, attn_mask, key_padding_mask, heads, dtype):
    """One mask for (B, H, L, S): a bool 'keep' mask when all given masks are bool, else
    an additive float mask (bool ones become -inf where torch ignores)."""
    masks = []
    if attn_mask is not None:
        if b.rank(attn_mask) == 3:  # (B*H, L, S)
            sizes = [b.emit(SIZE, [attn_mask], dim=d) for d in (1, 2)]
            attn_mask = emit_reshape(b, attn_mask, [-1, heads, *sizes])
        masks.append(attn_mask)
    if key_padding_mask is not None:  # (B, S) -> (B, 1, 1, S)
        masks.append(emit_reshape(b, key_padding_mask, ["same", 1, 1, -1]))
    if not masks:
        return None
    if all(b.dtype(m) == "bool" for m in masks):
        keep = [b.emit(LOGICAL_NOT, [m]) for m in masks]
        return keep[0] if len(keep) == 1 else b.emit(LOGICAL_AND, keep)
    additive = [_additive(b, m, dtype) for m in masks]
    return additive[0] if len(additive) == 1 else binary(b, ADD, *additive)


def _additive(b, mask, dtype):
    if b.dtype(mask) != "bool":
        return cast(b, mask, dtype)
    minus_inf, zero = b.constant(float("-inf"), dtype), b.constant(0.0, dtype)
    return b.emit(WHERE, [mask, minus_inf, zero])
