"""Smaller files chosen by parity: int8 dynamic quantization and float16, each converted
with a maintained converter (onnxruntime's), checked against torch, and the layers whose
conversion breaks the tolerance kept in float32 and named.

    layers.py     which ONNX nodes make up each torch layer (name, source line)
    measure.py    the tolerance, the torch reference at two batch sizes, a file's error
    quantize.py   int8 weights through onnxruntime.quantization.quantize_dynamic
    float16.py    float16 through onnxruntime.transformers.float16, with a keep-list
    choose.py     the parity-driven search for the layers kept in float32
    report.py     size, latency and error before and after, the layers kept
    apply.py      one call: float32 export in, converted ModelProto and report out
"""
from graphnn.compress.apply import PRECISIONS, QUANTIZE_MODES, compress, validate
from graphnn.compress.measure import Tolerance, parse_tolerance
from graphnn.compress.report import CompressReport

__all__ = ["PRECISIONS", "QUANTIZE_MODES", "CompressReport", "Tolerance", "compress", "parse_tolerance", "validate"]
