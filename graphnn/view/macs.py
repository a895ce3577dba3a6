"""Multiply-accumulates per op, for the example input, counted as PyTorch counts them.

``torch.utils.flop_counter.FlopCounterMode`` counts the matrix products (mm, addmm, bmm,
convolutions, attention) at 2 FLOPs per MAC and nothing else; these rules count the same
products from shapes, so a Linear is ``out.numel() * in_features`` and a BatchNorm, an
activation or a reshape is 0. One registry for IR ops, one for ONNX op types. Shapes given
to a rule are concrete (symbols at their example sizes). Attention is its two products, the
formula the counter applies to torch's fused attention kernels (``sdpa_flop_count``); on CPU
the counter does not see the fused kernel, so its total there leaves attention out.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

Shape = tuple
MacRule = Callable[[list, list, dict], int]
IR_RULES: dict[str, MacRule] = {}
ONNX_RULES: dict[str, MacRule] = {}


def _register(table: dict, ops: tuple) -> Callable[[MacRule], MacRule]:
    def register(fn: MacRule) -> MacRule:
        for op in ops:
            table[op] = fn
        return fn
    return register


def ir_macs(*ops: str):
    """``fn(input shapes, output shapes, {param name: shape}) -> MACs`` for IR ops."""
    return _register(IR_RULES, ops)


def onnx_macs(*ops: str):
    """``fn(input shapes, output shapes, attributes) -> MACs`` for ONNX op types."""
    return _register(ONNX_RULES, ops)


def count(table: dict, op: str, ins: list, outs: list, extra: dict) -> Optional[int]:
    """MACs of one op, 0 for ops without products, None when a shape it needs is unknown."""
    rule = table.get(op)
    if rule is None:
        return 0
    if any(s is None for s in outs) or any(s is None for s in ins):
        return None
    try:
        return int(rule(ins, outs, extra))
    except (IndexError, KeyError, TypeError):  # an unusual signature: say unknown, not a wrong number
        return None


# ----------------------------------------------------------------- IR ops
@ir_macs("linear", "dynamic_quantized_linear")
def _linear(ins, outs, params):
    return math.prod(outs[0]) * params["weight"][-1]


@ir_macs("conv1d", "conv2d", "conv3d")
def _conv(ins, outs, params):
    weight = params["weight"]  # [out, in / groups, *kernel]
    return math.prod(outs[0]) * weight[1] * math.prod(weight[2:])


@ir_macs("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _conv_transpose(ins, outs, params):
    weight = params["weight"]  # [in, out / groups, *kernel]: every input element meets a kernel
    return math.prod(ins[0]) * weight[1] * math.prod(weight[2:])


@ir_macs("matmul")
def _matmul(ins, outs, params):
    return math.prod(outs[0]) * ins[0][-1]


@ir_macs("bilinear")
def _bilinear(ins, outs, params):
    weight = params["weight"]  # [out, in1, in2]
    return math.prod(outs[0]) * weight[1] * weight[2]


@ir_macs("attention")
def _attention(ins, outs, params):
    query, key, value = ins[:3]  # q @ k^T, then weights @ v
    rows = math.prod(query[:-1])
    return rows * key[-2] * query[-1] + rows * key[-2] * value[-1]


def _recurrent(ins, outs, params):
    """Per step and batch row, each gate weight matrix (input and hidden, each layer and
    direction) is one matrix-vector product."""
    steps = math.prod(ins[0][:-1])  # seq x batch (or batch for a cell)
    weights = [shape for name, shape in params.items() if name.startswith("weight_")]  # [gates*H, in]
    return steps * sum(shape[0] * shape[1] for shape in weights)


ir_macs("lstm", "gru", "rnn", "lstm_cell", "gru_cell", "rnn_cell")(_recurrent)


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
