"""``attention`` as onnxruntime's ``MultiHeadAttention`` (com.microsoft), for a target whose
provider has the kernel (``targets``): one fused kernel instead of MatMul, Softmax, MatMul.

graphnn's attention holds heads apart, ``(B, N, L, E)``; the kernel takes the query as
``(B, L, N*E)`` and key/value as ``(B, N, S, E)`` (its BNSH form: a KV cache's concatenation
goes in as it is), and gives ``(B, L, N*Ev)``. The query's transpose meets the model's own
(heads split by view + transpose), which onnxruntime cancels; so does the output's.

Masks become the kernel's additive ``attention_bias`` of shape (B or 1, N or 1, L, S): a bool
mask is 0 where kept and -inf elsewhere, a causal mask is torch's top-left aligned tril (not
the kernel's bottom-right ``unidirectional``, which differs when L != S). A row with every key
masked comes out NaN, as the standard lowering's Softmax gives it, and zero where torch gives
zeros (``masked_rows="zero"``). Grouped key/value heads are repeated to the query's heads first.

What the kernel cannot take falls back to the standard lowering, said in the node's doc string
(``fallback_reason``): a rank other than 4, head counts not known at export, the attention
weights as an output, a dtype without the provider's kernel.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from graphnn.backend.onnx.lowering.attention_parts import causal_keep, repeat_heads
from graphnn.backend.onnx.targets import CONTRIB

FUSED = "MultiHeadAttention"
_NP = {"float32": np.float32, "float16": np.float16}


def fallback_reason(ctx, node) -> Optional[str]:
    """Why ``node`` cannot be the fused kernel on ``ctx.runs_on``; None when it can."""
    values = ctx.graph.values
    q, k, v = (values[name] for name in node.inputs[:3])
    if not ctx.runs_on.has(FUSED, q.dtype):
        return f"{ctx.runs_on.name} has no {q.dtype} {FUSED} kernel"
    if any(len(t.shape) != 4 for t in (q, k, v)):
        return f"{FUSED} needs (batch, heads, length, size) inputs, got rank {len(q.shape)}"
    if not isinstance(q.shape[1], int) or not isinstance(k.shape[1], int):
        return "the number of heads is not known at export"
    if node.attrs.get("weights") and _weights_used(ctx, node):
        return f"{FUSED} does not return the attention weights"
    return None


def fused_attention(ctx, node) -> None:
    """Emit one MultiHeadAttention for ``node`` (``fallback_reason`` said it can)."""
    q, k, v, *mask = ctx.inputs(node)
    dtype = ctx.graph.values[node.inputs[0]].dtype
    heads = ctx.graph.values[node.inputs[0]].shape[1]
    if node.attrs.get("gqa") and ctx.graph.values[node.inputs[1]].shape[1] != heads:
        k, v = repeat_heads(ctx, node, k, 1), repeat_heads(ctx, node, v, 2)
    query = ctx.add1("Reshape", [ctx.add1("Transpose", [q], perm=[0, 2, 1, 3]), _const(ctx, [0, 0, -1], "int64")])
    bias = _bias(ctx, node, q, k, mask[0] if mask else None, dtype)
    inputs = [query, k, v, "", "", bias] if bias else [query, k, v]
    fused = ctx.add1(FUSED, inputs, domain=CONTRIB, num_heads=heads, scale=float(node.attrs["scale"]))
    if mask and node.attrs.get("masked_rows") == "zero":
        fused = ctx.add1("Where", [ctx.add1("IsNaN", [fused]), _const(ctx, 0.0, dtype), fused])
    split = ctx.add1("Reshape", [fused, _const(ctx, [0, 0, heads, -1], "int64")])
    ctx.add1("Transpose", [split], ctx.outputs(node)[0], perm=[0, 2, 1, 3])


def _bias(ctx, node, q: str, k: str, mask: Optional[str], dtype: str) -> Optional[str]:
    """The additive (B|1, N|1, L, S) bias of ``mask`` and ``causal``; None when neither."""
    causal = node.attrs.get("causal")
    if mask is None and not causal:
        return None
    bias = _as_bias(ctx, node, mask, dtype) if mask is not None else None
    if causal:
        keep = causal_keep(ctx, q, k, 4)  # (L, S)
        tril = ctx.add1("Where", [keep, _const(ctx, 0.0, dtype), _const(ctx, -np.inf, dtype)])
        bias = tril if bias is None else ctx.add1("Add", [bias, tril])
    elif not _full_rows(ctx, node):
        bias = ctx.add1("Add", [bias, _zeros_like_scores(ctx, q, k, dtype)])
    if causal and mask is None:
        bias = ctx.add1("Unsqueeze", [bias, _const(ctx, [0, 1], "int64")])
    return bias


def _as_bias(ctx, node, mask: str, dtype: str) -> str:
    """A bool mask as 0 / -inf, a float mask as it is; at rank 4. Built once per mask tensor."""
    key = ("attention_bias", mask, dtype)
    if key in ctx.shared:
        return ctx.shared[key]
    value = ctx.graph.values[node.inputs[3]]
    bias = mask
    if value.dtype == "bool":
        bias = ctx.add1("Where", [mask, _const(ctx, 0.0, dtype), _const(ctx, -np.inf, dtype)])
    if len(value.shape) < 4:
        bias = ctx.add1("Unsqueeze", [bias, _const(ctx, list(range(4 - len(value.shape))), "int64")])
    ctx.shared[key] = bias
    return bias


def _full_rows(ctx, node) -> bool:
    """The mask already spans (L, S) in its last two dims (the kernel broadcasts only B and N)."""
    values = ctx.graph.values
    mask = values[node.inputs[3]].shape
    return len(mask) >= 2 and tuple(mask[-2:]) == (values[node.inputs[0]].shape[2], values[node.inputs[1]].shape[2])


def _zeros_like_scores(ctx, q: str, k: str, dtype: str) -> str:
    """(1, 1, L, S) zeros: adding it spreads a (.., 1, S) key padding mask over the query rows."""
    lengths = [ctx.add1("Gather", [ctx.add1("Shape", [t]), _const(ctx, [2], "int64")], axis=0) for t in (q, k)]
    shape = ctx.add1("Concat", [_const(ctx, [1, 1], "int64"), *lengths], axis=0)
    return ctx.add1("Expand", [_const(ctx, 0.0, dtype), shape])


def _weights_used(ctx, node) -> bool:
    weights = node.outputs[1] if len(node.outputs) > 1 else None
    return weights is not None and bool(ctx.graph.consumers(weights) or weights in ctx.graph.outputs)


def _const(ctx, values, dtype: str) -> str:
    return ctx.const(values, _NP.get(dtype, dtype), "fused")
