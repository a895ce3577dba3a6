"""float16 files by onnxruntime's maintained converter (``onnxruntime.transformers.float16``,
the same code as onnxconverter-common's, shipped with onnxruntime: no new dependency).

It converts float32 initializers and values to float16, keeps the ops and nodes it is told
to keep in float32 and puts Casts at every boundary; ``keep_io_types`` keeps the graph's
float32 inputs and outputs (Casts at the edges), ``--float16-io`` drops them.

Kept in float32 by default (``KEEP_OPS``): softmax, the norms, reductions and the ops that
feed them (Pow / Sqrt / Exp / Log), where float16's range (65504) or 10-bit mantissa
overflows or loses a sum, plus onnxruntime's own block list (ops with no float16 schema).
Parity then decides which further layers stay float32 (``choose.py``).

onnxruntime's CPU provider lacks float16 kernels for many ops; its graph transformer
(InsertCastTransformer) runs those in float32 between Casts, so a file runs on CPU, with the
rounding of float16 at every converted boundary. Should a session still report a missing
kernel, that node is kept in float32 too (``_runnable``).
"""
from __future__ import annotations

import re
from typing import Collection

import onnx

from graphnn.compress.layers import Layer, node_layers
from graphnn.ir import Graph

KEEP_OPS = (
    "Softmax", "LogSoftmax", "LayerNormalization", "SimplifiedLayerNormalization", "RMSNormalization",
    "BatchNormalization", "InstanceNormalization", "GroupNormalization", "LpNormalization",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceProd", "CumSum", "Pow", "Sqrt", "Exp", "Log", "Range",
)
_FLOAT = onnx.TensorProto.FLOAT
_MISSING = re.compile(r"Could not find an implementation for \w+\(\d+\) node with name '([^']*)'")
_PROBES = 8  # sessions tried while keeping nodes without a CPU kernel; beyond, the error stands


def keep_ops() -> list[str]:
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST
    return sorted(set(KEEP_OPS) | set(DEFAULT_OP_BLOCK_LIST))


def convertible_layers(model: onnx.ModelProto, graph: Graph = None) -> list[Layer]:
    """The layers (by module path) whose nodes the converter may turn float16: every node but
    the kept op types and the shape / integer bookkeeping that has no float in it."""
    blocked = set(keep_ops())
    floats = _float_values(model)

    def convertible(node: onnx.NodeProto) -> bool:
        return node.op_type not in blocked and any(v in floats for v in (*node.input, *node.output))

    return node_layers(model, graph, convertible)


def convert(model: onnx.ModelProto, kept_nodes: Collection[str], float16_io: bool = False) -> onnx.ModelProto:
    """``model`` in float16 but for the kept op types and ``kept_nodes``, runnable on CPU."""
    kept = set(kept_nodes)
    for _ in range(_PROBES):
        converted = _convert(model, kept, float16_io)
        missing = _missing_kernel(converted)
        if missing is None or missing in kept:
            return converted
        kept.add(missing)
    return converted


def _convert(model: onnx.ModelProto, kept: set, float16_io: bool) -> onnx.ModelProto:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    converted = convert_float_to_float16(copy, keep_io_types=not float16_io, op_block_list=keep_ops(),
                                         node_block_list=sorted(kept), disable_shape_infer=False)
    return without_round_trips(converted)


def without_round_trips(model: onnx.ModelProto) -> onnx.ModelProto:
    """The converter stores every value in float16, a kept node's output included: between
    two float32 nodes it puts Cast(float16) then Cast(float32), which rounds (and overflows
    past 65504) what was meant to stay float32. Each Cast(float32) reading such a round trip
    reads the float32 value instead (a float32 -> float32 Cast, which onnxruntime drops), and
    the float16 Cast goes once nothing reads it."""
    graph = model.graph
    floats = _declared_float32(model)
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    dropped = set()
    for node in graph.node:
        if not (_is_cast(node, onnx.TensorProto.FLOAT16) and node.input[0] in floats):
            continue
        for reader in readers.get(node.output[0], []):
            if _is_cast(reader, _FLOAT):
                reader.input[0] = node.input[0]
        if node.output[0] not in outputs and all(_is_cast(r, _FLOAT) for r in readers.get(node.output[0], [])):
            dropped.add(id(node))
    kept_nodes = [n for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    return model


def _is_cast(node: onnx.NodeProto, to: int) -> bool:
    return node.op_type == "Cast" and any(a.name == "to" and a.i == to for a in node.attribute)


def _declared_float32(model: onnx.ModelProto) -> set[str]:
    graph = model.graph
    values = [*graph.input, *graph.output, *graph.value_info]
    names = {v.name for v in values if v.type.tensor_type.elem_type == _FLOAT}
    return names | {t.name for t in graph.initializer if t.data_type == _FLOAT}


def _missing_kernel(model: onnx.ModelProto):
    """The node onnxruntime's CPU provider has no kernel for, or None when a session starts."""
    from graphnn.compress.measure import session
    try:
        session(model.SerializeToString())
    except Exception as exc:  # onnxruntime raises its own pybind classes
        found = _MISSING.search(str(exc))
        if not found:
            raise
        return found.group(1)
    return None


def _float_values(model: onnx.ModelProto) -> set[str]:
    """Names of float32 values: initializers, graph inputs/outputs and inferred values."""
    inferred = onnx.shape_inference.infer_shapes(_skeleton(model), strict_mode=False)
    values = [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]
    names = {v.name for v in values if v.type.tensor_type.elem_type == _FLOAT}
    return names | {t.name for t in model.graph.initializer if t.data_type == _FLOAT}


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its initializers' data dropped (types and shapes kept): shape inference
    needs no weights, and a copy of them would double the memory."""
    from graphnn.onnxfile.schemas import without_weights
    return without_weights(model)
