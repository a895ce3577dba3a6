"""Parity tolerances in one place.

An output passes when ``max|onnx - torch| <= atol + rtol * max|torch|``. The defaults depend
on what the file computes, read off the ONNX model itself (so a file checked later, or
written by another tool, gets the same): float32 arithmetic agrees to about 1e-6 relative,
while dynamically quantized layers round activations to 8 bits, where onnxruntime's
DynamicQuantizeLinear and torch's quantization engines may pick a different step.
User-given --atol / --rtol always win.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import onnx


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    why: str


FLOAT32 = Tolerance(1e-4, 1e-4, "float32 arithmetic")
QUANTIZED = Tolerance(1e-4, 1e-2, "8-bit dynamically quantized activations")

_INTEGER_OPS = {"MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QLinearMatMul", "QLinearConv"}


def default_for(model: onnx.ModelProto) -> Tolerance:
    if any(node.op_type in _INTEGER_OPS for node in model.graph.node):
        return QUANTIZED
    return FLOAT32


def resolve(model: onnx.ModelProto, atol: Optional[float], rtol: Optional[float]) -> tuple[float, float]:
    """The user's values where given, else the model's defaults."""
    default = default_for(model)
    return (default.atol if atol is None else atol), (default.rtol if rtol is None else rtol)
