"""The ONNX checker on a model whose large weights are beside it, not in it."""
from __future__ import annotations

import onnx

from graphnn.onnxfile.schemas import check_schemas
from graphnn.onnxfile.serialize import checkable


def check(model: onnx.ModelProto) -> None:
    """``onnx.checker.check_model(full_check=True)`` on the model without its large weights'
    bytes (``checkable``), so checking costs no copy of them whatever the model's size. A dtype
    an op lacks at this opset (a bfloat16 Conv before opset 22) is refused naming the layer."""
    check_schemas(model)
    onnx.checker.check_model(checkable(model), full_check=True)
