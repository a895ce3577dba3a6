"""Parity tolerances in one place.

An output passes when ``max|onnx - torch| <= atol + rtol * max|torch|``. The defaults depend
on what the file computes, read off the ONNX model itself (so a file checked later, or
written by another tool, gets the same):

| computes in | atol | rtol | why |
|---|---|---|---|
| float64 | 1e-6 | 1e-6 | 52-bit mantissa, but ONNX float attributes (HardSwish's alpha, norms' epsilon) are float32, and a norm after them amplifies that (the fuzzer found 2.5e-7) |
| float32 | 1e-4 | 1e-4 | about 1e-6 per op, grown by depth and accumulation |
| float16 | 1e-3 | 1e-2 | 10-bit mantissa: one rounding is ~5e-4 relative, and torch and onnxruntime round intermediates at different places |
| bfloat16 | 1e-2 | 8e-2 | 7-bit mantissa: eight times coarser than float16 |
| 8-bit dynamic quantization | 1e-4 | 1e-2 | onnxruntime and torch may pick a different quantization step |

A file mixing float types gets the coarsest one's tolerance (a half model with a float32
output still rounded in half inside). User-given --atol / --rtol always win.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import onnx
from onnx import TensorProto

from graphnn.onnxfile.schemas import float_types


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    why: str


FLOAT64 = Tolerance(1e-6, 1e-6, "float64 arithmetic")
FLOAT32 = Tolerance(1e-4, 1e-4, "float32 arithmetic")
FLOAT16 = Tolerance(1e-3, 1e-2, "float16 arithmetic")
BFLOAT16 = Tolerance(1e-2, 8e-2, "bfloat16 arithmetic")
QUANTIZED = Tolerance(1e-4, 1e-2, "8-bit dynamically quantized activations")

# Coarsest first: the first float type the file computes with picks the tolerance.
BY_FLOAT_TYPE = [
    (TensorProto.BFLOAT16, BFLOAT16),
    (TensorProto.FLOAT16, FLOAT16),
    (TensorProto.FLOAT, FLOAT32),
    (TensorProto.DOUBLE, FLOAT64),
]

_INTEGER_OPS = {"MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QLinearMatMul", "QLinearConv"}


def default_for(model: onnx.ModelProto) -> Tolerance:
    if any(node.op_type in _INTEGER_OPS for node in model.graph.node):
        return QUANTIZED
    present = float_types(model)
    return next((tolerance for code, tolerance in BY_FLOAT_TYPE if code in present), FLOAT32)


def resolve(model: onnx.ModelProto, atol: Optional[float], rtol: Optional[float]) -> tuple[float, float]:
    """The user's values where given, else the model's defaults."""
    default = default_for(model)
    return (default.atol if atol is None else atol), (default.rtol if rtol is None else rtol)
