"""ONNX element types and the numpy names graphnn uses for them (the IR's dtype names too):
the one table every reader and writer of ONNX files looks types up in."""
from __future__ import annotations

from typing import Optional

from onnx import TensorProto

# ONNX elem type -> numpy's name, as messages, the IR and --input specs write it.
ONNX_NAMES = {
    TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.BFLOAT16: "bfloat16",
    TensorProto.DOUBLE: "float64", TensorProto.INT64: "int64", TensorProto.INT32: "int32",
    TensorProto.INT16: "int16", TensorProto.INT8: "int8", TensorProto.UINT8: "uint8", TensorProto.BOOL: "bool",
}
ONNX_TYPES = {name: code for code, name in ONNX_NAMES.items()}
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}


def onnx_dtype(name: str) -> int:
    """The ONNX elem type of an IR dtype name (``float32`` -> ``TensorProto.FLOAT``)."""
    return ONNX_TYPES[name]


def dtype_name(code: int) -> Optional[str]:
    """The numpy name of an ONNX elem type; None for a type graphnn does not name."""
    return ONNX_NAMES.get(code)
