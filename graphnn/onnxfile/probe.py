"""The probe: a one-node ONNX model handed to onnxruntime to learn what it loads (the newest
opset, the newest IR version, whether its CUDA provider starts). One builder for every probe."""
from __future__ import annotations

import functools

import onnx
from onnx import TensorProto, helper

PROBE_OPSET = 13  # old enough for every onnxruntime graphnn supports


def probe_model(opset: int = PROBE_OPSET, ir_version: int = 7) -> onnx.ModelProto:
    """``y = Identity(x)`` on one float, at ``opset`` and ``ir_version``."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)


def loads(model: onnx.ModelProto) -> bool:
    """Whether onnxruntime's CPU provider creates a session for ``model`` (silently)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return True
    except Exception:  # noqa: BLE001 - "not supported" comes in several exception types
        return False


@functools.lru_cache(maxsize=None)
def max_ir_version() -> int:
    """The newest ONNX IR version this onnxruntime loads, found by asking it (cached)."""
    for version in range(onnx.IR_VERSION + 4, 3, -1):
        if loads(probe_model(ir_version=version)):
            return version
    return onnx.IR_VERSION
