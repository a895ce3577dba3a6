"""Which ONNX opsets graphnn emits: 18 by default (what torch.onnx uses), from 13 up
to the newest that both the onnx package and the installed onnxruntime run."""
from __future__ import annotations

import functools

import onnx
from onnx import TensorProto, helper

from graphnn.errors import OpsetError

DEFAULT_OPSET = 18
MIN_OPSET = 13


def ir_version_for(opset: int) -> int:
    """The oldest ONNX IR version that can carry ``opset``: runtimes accept it widely."""
    return helper.find_min_ir_version_for([helper.make_opsetid("", opset)])


@functools.lru_cache(maxsize=None)
def max_opset() -> int:
    """The newest opset onnxruntime loads, found by asking it (cached per process)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    for opset in range(onnx.defs.onnx_opset_version(), MIN_OPSET - 1, -1):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  ir_version=ir_version_for(opset))
        try:
            ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # noqa: BLE001 - "not supported" comes in several exception types
            continue
    return MIN_OPSET


def check_opset(opset: int) -> int:
    newest = max_opset()
    if not MIN_OPSET <= opset <= newest:
        raise OpsetError(
            f"opset {opset} is not supported: choose {MIN_OPSET}..{newest} "
            f"(the newest the installed onnxruntime runs; default {DEFAULT_OPSET})"
        )
    return opset
