"""onnxruntime without a kernel for a dtype (float64 Conv, almost every bfloat16 op on CPU),
or whose Python API cannot exchange it (bfloat16 arrays): said naming the layer and what to
do (``schemas.ADVICE``), not as onnxruntime's traceback."""
from __future__ import annotations

import re
from typing import Iterable, Optional

import onnx

from graphnn.errors import UnsupportedError
from graphnn.onnxfile.schemas import ADVICE, describe_node, element_types, without_weights
from graphnn.onnxfile.types import ONNX_NAMES

_ORT_MISSING = re.compile(r"Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'")


def kernel_missing(message: str, model: Optional[onnx.ModelProto], provider: str) -> Optional[UnsupportedError]:
    """onnxruntime's "Could not find an implementation for Conv(11) node with name '0'" as
    one line naming the layer and the dtype; None when ``message`` is another failure."""
    found = _ORT_MISSING.search(message)
    if not found:
        return None
    op_type, _, name = found.groups()
    node = next((n for n in model.graph.node if n.name == name), None) if model is not None else None
    where = describe_node(node) if node is not None else f"node {name}"
    dtype = _node_dtype(model, node) if node is not None else None
    kind = f"{dtype} " if dtype else ""
    return UnsupportedError(f"{where}: onnxruntime's {provider} has no {kind}{op_type} kernel; {ADVICE}")


def _node_dtype(model: onnx.ModelProto, node: onnx.NodeProto) -> Optional[str]:
    types = element_types(model)
    if not all(name in types for name in node.input):  # a layer's inner node: infer its input types
        types = element_types(onnx.shape_inference.infer_shapes(without_weights(model), strict_mode=False))
    for name in node.input:
        if types.get(name) in ONNX_NAMES:
            return ONNX_NAMES[types[name]]
    return None


def unfeedable(session_types: Iterable[str]) -> Optional[str]:
    """The first input/output type onnxruntime's Python API cannot exchange as numpy."""
    return next((t for t in session_types if t == "tensor(bfloat16)"), None)
