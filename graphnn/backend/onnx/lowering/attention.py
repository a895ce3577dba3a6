"""Lowering of ``attention``: onnxruntime's fused kernel for a target that has it
(``fused_attention``), else MatMul, scale, mask, Softmax, MatMul — the composition
onnxruntime's attention fusions look for, at every opset from 13.

Masks: a bool mask keeps True positions (Where to -inf elsewhere), a float mask is added;
``causal`` keeps key j <= query i (torch's top-left aligned tril), built from Range so the
lengths stay dynamic. Rows whose every key is masked come out as torch gives them:
zeros from F.scaled_dot_product_attention (``masked_rows="zero"``), NaN from
nn.MultiheadAttention (``"nan"``: what Softmax of all -inf gives).
"""
import numpy as np

from graphnn.backend.onnx.lowering import fused_attention
from graphnn.backend.onnx.lowering.attention_parts import causal_keep, repeat_heads
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.attention import ATTENTION, ZERO_PADDED

_NP = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


@lowers(ATTENTION)
def attention(ctx, node):
    """The fused kernel where the target has it (``fused_attention``), else the composition."""
    if ctx.runs_on.fuses:
        reason = fused_attention.fallback_reason(ctx, node)
        if reason is None:
            return fused_attention.fused_attention(ctx, node)
        ctx.note(f"standard attention: {reason}")
    standard_attention(ctx, node)


def standard_attention(ctx, node):
    q, k, v, *mask = ctx.inputs(node)
    dtype = ctx.graph.values[node.inputs[0]].dtype
    rank = len(ctx.graph.values[node.inputs[0]].shape)
    if node.attrs.get("gqa"):
        k, v = repeat_heads(ctx, node, k, 1), repeat_heads(ctx, node, v, 2)
    perm = list(range(rank))
    perm[-2:] = perm[-1], perm[-2]
    scores = ctx.add1("MatMul", [q, ctx.add1("Transpose", [k], perm=perm)])
    scores = ctx.add1("Mul", [scores, ctx.const(node.attrs["scale"], _NP[dtype], "scale")])
    masked = bool(mask) or node.attrs.get("causal")
    minus_inf = ctx.const(-np.inf, _NP[dtype], "minus_inf") if masked else None
    if mask:
        mask_dtype = ctx.graph.values[node.inputs[3]].dtype
        if mask_dtype == "bool":
            scores = ctx.add1("Where", [mask[0], scores, minus_inf])
        else:
            scores = ctx.add1("Add", [scores, mask[0]])
    if node.attrs.get("causal"):
        scores = ctx.add1("Where", [causal_keep(ctx, q, k, rank), scores, minus_inf])
    probs = ctx.add1("Softmax", [scores], axis=-1)
    if masked and node.attrs.get("masked_rows") == "zero":
        probs = ctx.add1("Where", [ctx.add1("IsNaN", [probs]), ctx.const(0.0, _NP[dtype], "zero"), probs])
    outputs = ctx.outputs(node)
    ctx.add1("MatMul", [probs, v], outputs[0])
    weights = node.outputs[1] if len(node.outputs) > 1 else None
    if weights is not None and (ctx.graph.consumers(weights) or weights in ctx.graph.outputs):
        ctx.add1("Identity", [probs], outputs[1])


@lowers(ZERO_PADDED)
def zero_padded(ctx, node):
    """Where(padded [and the mask is left-aligned], 0, x): what torch's nested tensors give back."""
    x, padding = ctx.inputs(node)
    dtype = ctx.graph.values[node.inputs[0]].dtype
    if ctx.graph.values[node.inputs[1]].dtype == "bool":
        padded = padding
    else:  # a float mask: 0 keeps, anything else pads
        padded = ctx.add1("Not", [ctx.add1("Equal", [padding, ctx.const(0.0, _NP[dtype], "zero")])])
    if node.attrs["if_left_aligned"]:
        padded = ctx.add1("And", [padded, _left_aligned(ctx, padded)])
    if not node.attrs["batch_first"]:
        padded = ctx.add1("Transpose", [padded], perm=[1, 0])
    padded = ctx.add1("Unsqueeze", [padded, ctx.const([2], "int64", "axes")])
    ctx.add1("Where", [padded, ctx.const(0.0, _NP[dtype], "zero"), x], ctx.output(node))


def _left_aligned(ctx, padded):
    """True when every row is tokens first, padding after (padded never turns back to kept)."""
    as_int = ctx.add1("Cast", [padded], to=6)  # int32
    starts, ends, axes = ctx.const([0], "int64", "s0"), ctx.const([-1], "int64", "e1"), ctx.const([1], "int64", "ax")
    ends_all = ctx.const([np.iinfo(np.int64).max], "int64", "emax")
    head = ctx.add1("Slice", [as_int, starts, ends, axes])
    tail = ctx.add1("Slice", [as_int, ctx.const([1], "int64", "s1"), ends_all, axes])
    ordered = ctx.add1("Cast", [ctx.add1("LessOrEqual", [head, tail])], to=6)
    flat = ctx.add1("Reshape", [ordered, ctx.const([-1], "int64", "flat")])
    checks = ctx.add1("Concat", [flat, ctx.const([1], "int32", "one")], axis=0)  # never empty
    return ctx.add1("Cast", [ctx.add1("ReduceMin", [checks], keepdims=0)], to=9)
