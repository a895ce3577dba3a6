"""Multiply-accumulates per op, for the example input, counted as PyTorch counts them.

``torch.utils.flop_counter.FlopCounterMode`` counts the matrix products (mm, addmm, bmm,
convolutions, attention) at 2 FLOPs per MAC and nothing else; these rules count the same
products from shapes, so a Linear is ``out.numel() * in_features`` and a BatchNorm, an
activation or a reshape is 0. An IR op's rule is on its OpDef (graphnn/ops, NO_MACS for
ops without products); ONNX op types have the table here. Shapes given to a rule are
concrete (symbols at their example sizes). Attention is its two products, the formula the
counter applies to torch's fused attention kernels (``sdpa_flop_count``); on CPU
the counter does not see the fused kernel, so its total there leaves attention out.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

from graphnn.ops import NO_MACS, opdef

Shape = tuple
MacRule = Callable[[list, list, dict], int]
ONNX_RULES: dict[str, MacRule] = {}


def onnx_macs(*ops: str) -> Callable[[MacRule], MacRule]:
    """``fn(input shapes, output shapes, attributes) -> MACs`` for ONNX op types."""
    def register(fn: MacRule) -> MacRule:
        for op in ops:
            ONNX_RULES[op] = fn
        return fn
    return register


def count(table: dict, op: str, ins: list, outs: list, extra: dict) -> Optional[int]:
    """MACs of one ONNX op type, 0 for ops without products, None when a shape it needs is unknown."""
    return count_with(table.get(op), ins, outs, extra)


def ir_count(op: str, ins: list, outs: list, params: dict) -> Optional[int]:
    """MACs of one IR op, by the MAC rule of its OpDef."""
    rule = opdef(op).macs
    return count_with(None if rule is NO_MACS else rule, ins, outs, params)


def count_with(rule: Optional[MacRule], ins: list, outs: list, extra: dict) -> Optional[int]:
    if rule is None:
        return 0
    if any(s is None for s in outs) or any(s is None for s in ins):
        return None
    try:
        return int(rule(ins, outs, extra))
    except (IndexError, KeyError, TypeError):  # an unusual signature: say unknown, not a wrong number
        return None


# ----------------------------------------------------------------- ONNX ops
@onnx_macs("Conv", "QLinearConv", "ConvInteger")
def _onnx_conv(ins, outs, attrs):
    weight = ins[1]
    return math.prod(outs[0]) * weight[1] * math.prod(weight[2:])


@onnx_macs("ConvTranspose")
def _onnx_conv_transpose(ins, outs, attrs):
    weight = ins[1]
    return math.prod(ins[0]) * weight[1] * math.prod(weight[2:])


@onnx_macs("Gemm")
def _onnx_gemm(ins, outs, attrs):
    a = ins[0]
    return math.prod(outs[0]) * (a[0] if attrs.get("transA") else a[1])


@onnx_macs("MatMul", "MatMulInteger", "QLinearMatMul")
def _onnx_matmul(ins, outs, attrs):
    return math.prod(outs[0]) * ins[0][-1]


@onnx_macs("LSTM", "GRU", "RNN")
def _onnx_recurrent(ins, outs, attrs):
    x, w, r = ins[:3]  # x [seq, batch, in] (layout 0), W [dirs, gates*H, in], R [dirs, gates*H, H]
    steps = x[0] * x[1]
    return steps * (math.prod(w) + math.prod(r))
