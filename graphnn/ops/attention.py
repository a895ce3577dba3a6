"""Shape rule of ``attention``: softmax(q k^T * scale + mask) v over the last two dims.

Inputs ``q (..., L, E)``, ``k (..., S, E)``, ``v (..., S, Ev)`` and an optional mask
broadcastable to ``(..., L, S)``; with ``gqa`` the key/value heads (dim -3) are repeated to the
query's. Outputs: ``(..., L, Ev)`` and, with ``weights``, the probabilities ``(..., L, S)``.
"""
import math

from graphnn.ops.dims import fmt, same
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def attention(node, q, k, v, *mask):
    if min(len(q.shape), len(k.shape), len(v.shape)) < 2:
        raise ShapeMismatch(f"expects query, key and value of rank >= 2, gets {fmt(q.shape)}, {fmt(k.shape)}, {fmt(v.shape)}")
    if not same(q.shape[-1], k.shape[-1]):
        raise ShapeMismatch(f"expects query and key of one embedding size, gets {q.shape[-1]} and {k.shape[-1]}")
    if not same(k.shape[-2], v.shape[-2]):
        raise ShapeMismatch(f"expects key and value of one length, gets {k.shape[-2]} and {v.shape[-2]}")
    if node.attrs.get("gqa"):
        heads, kv_heads = q.shape[-3], k.shape[-3]
        if isinstance(heads, int) and isinstance(kv_heads, int) and heads % kv_heads:
            raise ShapeMismatch(f"expects query heads ({heads}) to be a multiple of key/value heads ({kv_heads})")
    out = TensorType(q.shape[:-1] + v.shape[-1:], q.dtype)
    if not node.attrs.get("weights"):
        return out
    return [out, TensorType(q.shape[:-1] + k.shape[-2:-1], q.dtype)]


def zero_padded(node, x, padding):
    """TransformerEncoder's nested-tensor output: ``x`` with padded positions zeroed."""
    batch, seq = (x.shape[0], x.shape[1]) if node.attrs["batch_first"] else (x.shape[1], x.shape[0])
    if tuple(padding.shape) != (batch, seq):
        raise ShapeMismatch(f"expects a key padding mask of shape {fmt((batch, seq))}, gets {fmt(padding.shape)}")
    return TensorType(x.shape, x.dtype)


def attention_macs(ins, outs, params):
    """The formula torch's flop counter applies to its fused attention kernels (``sdpa_flop_count``)."""
    query, key, value = ins[:3]  # q @ k^T, then weights @ v
    rows = math.prod(query[:-1])
    return rows * key[-2] * query[-1] + rows * key[-2] * value[-1]


ATTENTION = define("attention", shape=attention, macs=attention_macs)
ZERO_PADDED = define("zero_padded", shape=zero_padded, macs=NO_MACS)
