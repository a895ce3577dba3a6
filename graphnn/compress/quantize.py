"""int8 weights with dynamically quantized activations, by onnxruntime's own quantizer.

``quantize_dynamic`` turns each chosen MatMul / Gemm / Conv with a constant weight into
DynamicQuantizeLinear + MatMulInteger / ConvInteger (int8 weights, the activation's scale
computed per run). graphnn decides which nodes (``nodes_to_quantize``); onnxruntime does the
arithmetic, so the file is what its CPU kernels were written for.

Weights are quantized per channel (a scale per output column / filter): on the 4-layer
BERT of benchmarks/compress_bert.py that cut the relative error from 2.0e-2 to 1.6e-2 at the
same size and latency. Embedding tables (Gather) are quantized too (int8 rows, dequantized
after the lookup): there the file went from 55 MB to 19 MB.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from typing import Iterator, Sequence

import onnx
from onnx import numpy_helper

from graphnn.compress.layers import Layer, node_layers
from graphnn.ir import Graph

QUANTIZED_OPS = ("MatMul", "Gemm", "Conv", "Gather")
_WEIGHT_INPUT = {"MatMul": 1, "Gemm": 1, "Conv": 1, "Gather": 0}  # Gather: an embedding table's lookup


def quantizable_layers(model: onnx.ModelProto, graph: Graph = None) -> list[Layer]:
    """One layer per MatMul / Gemm / Conv node whose weight is a float initializer, and per
    Gather from a float table (an embedding: int8 rows, dequantized after the lookup). A
    MatMul of two activations, attention's scores, stays float (both sides would be
    quantized per run)."""
    tables = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 2}
    constants = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}

    def quantizable(node: onnx.NodeProto) -> bool:
        index = _WEIGHT_INPUT.get(node.op_type)
        if index is None or len(node.input) <= max(index, 1):
            return False
        return node.input[index] in (tables if node.op_type == "Gather" else constants)

    return [Layer(layer.name, layer.source, (node,)) for layer in node_layers(model, graph, quantizable)
            for node in layer.nodes]


def quantize(model: onnx.ModelProto, nodes: Sequence[str]) -> onnx.ModelProto:
    """``model`` with the ``nodes`` named quantized (none: the model itself, since an empty
    ``nodes_to_quantize`` means all of them to onnxruntime)."""
    if not nodes:
        return model
    from onnxruntime.quantization import QuantType, quantize_dynamic  # imports sympy etc.: only when used

    model = gemms_as_matmuls(model, set(nodes))
    with tempfile.TemporaryDirectory(prefix="graphnn-int8-") as folder, _quiet():
        out = os.path.join(folder, "int8.onnx")
        quantize_dynamic(model, out, op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_quantize=list(nodes),
                         weight_type=QuantType.QInt8, per_channel=True,
                         use_external_data_format=False,  # apply.compress refuses models over 2 GB
                         extra_options={"MatMulConstBOnly": True})
        return onnx.load(out)


def gemms_as_matmuls(model: onnx.ModelProto, nodes: set) -> onnx.ModelProto:
    """A copy where each Gemm in ``nodes`` (a Linear on 2-D input) is a MatMul of the same
    name plus an Add of its bias: onnxruntime's dynamic (IntegerOps) quantizer has no Gemm
    rule and would leave a classifier head float32. Gemms with alpha / beta / transA other
    than the defaults stay as they are."""
    gemms = [n for n in model.graph.node if n.name in nodes and n.op_type == "Gemm" and _plain(n)]
    if not gemms:
        return model
    result = onnx.ModelProto()
    result.CopyFrom(model)
    weights = {t.name: t for t in result.graph.initializer}
    rebuilt = []
    for node in result.graph.node:
        rebuilt += _as_matmul(node, weights, result.graph) if node.name in {g.name for g in gemms} else [node]
    del result.graph.node[:]
    result.graph.node.extend(rebuilt)
    return result


def _plain(node: onnx.NodeProto) -> bool:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0)


def _as_matmul(node: onnx.NodeProto, weights: dict, graph: onnx.GraphProto) -> list:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    weight = node.input[1]
    if attrs.get("transB", 0):
        if weight not in weights:
            return [node]
        transposed = numpy_helper.from_array(numpy_helper.to_array(weights[weight]).T.copy(), f"{weight}_t")
        graph.initializer.append(transposed)
        weight = transposed.name
    if len(node.input) < 3 or not node.input[2]:
        return [onnx.helper.make_node("MatMul", [node.input[0], weight], list(node.output), node.name,
                                      doc_string=node.doc_string)]
    product = f"{node.name}/MatMul_out"
    return [onnx.helper.make_node("MatMul", [node.input[0], weight], [product], node.name, doc_string=node.doc_string),
            onnx.helper.make_node("Add", [product, node.input[2]], list(node.output), f"{node.name}/Add",
                                  doc_string=node.doc_string)]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """onnxruntime's quantizer logs "Please consider to run pre-processing" on the root
    logger for every call; graphnn's file needs none (its shapes are inferred)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
