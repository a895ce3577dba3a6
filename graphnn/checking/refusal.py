"""onnxruntime refusing a file at session creation (a kernel's attribute check, or one of its
optimizer's rewrites producing a node its kernel rejects) as one line naming the layer, not
onnxruntime's C++ message. onnxruntime rarely names the node, so the layer is found by loading
ever longer prefixes of the graph: the first node whose prefix is refused is the culprit."""
from __future__ import annotations

import re
from typing import Callable, Optional

import onnx

from graphnn.errors import UnsupportedError
from graphnn.onnxfile.schemas import describe_node

_NAMED = re.compile(r"node with name '([^']*)'|Node \(([^)]*)\)")
_SOURCE = re.compile(r"\S*onnxruntime\S*\.(?:h|cc):\d+ ")  # "/onnxruntime_src/.../pool_attributes.h:88 "


def load_refusal(message: str, model: Optional[onnx.ModelProto], loads: Optional[Callable[[bytes], bool]],
                 provider: str, what: str) -> UnsupportedError:
    """The error for onnxruntime's ``message`` about ``what`` (the file); ``loads(bytes)`` says
    whether a model loads, None when its prefixes cannot be tried (weights in external data)."""
    node = _named_node(message, model)
    if node is None and model is not None and loads is not None:
        node = _first_refused(model, loads)
    if node is None:
        return UnsupportedError(f"onnxruntime's {provider} refuses {what} at load: {reason(message)}")
    return UnsupportedError(f"{describe_node(node)}: onnxruntime's {provider} refuses its {node.op_type} "
                            f"node at load: {reason(message)}")


def reason(message: str) -> str:
    """onnxruntime's own sentence, without its error code, source path and C++ signature."""
    text = message.splitlines()[0] if message else "no message"
    text = text.split("Exception during initialization: ")[-1]
    if " was false." in text:  # an ORT_ENFORCE: "<signature> <condition> was false. <why>"
        condition, _, why = text.partition(" was false.")
        text = why.strip() or condition
    text = _SOURCE.sub("", re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text))
    return text.strip()[:200]


def _named_node(message: str, model: Optional[onnx.ModelProto]) -> Optional[onnx.NodeProto]:
    found = _NAMED.search(message)
    if not found or model is None:
        return None
    name = found.group(1) or found.group(2)
    return next((n for n in model.graph.node if n.name == name), None)


def _first_refused(model: onnx.ModelProto, loads: Callable[[bytes], bool]) -> Optional[onnx.NodeProto]:
    """Binary search for the shortest refused prefix (a prefix ends after a node whose outputs
    all have known types, so they can be its graph outputs)."""
    typed = {v.name: v for v in (*model.graph.value_info, *model.graph.output)}
    ends = [k for k, node in enumerate(model.graph.node, start=1)
            if node.output and all(out in typed for out in node.output if out)]
    low, high, found = 0, len(ends) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if loads(_prefix(model, ends[middle], typed)):
            low = middle + 1
        else:
            found, high = ends[middle], middle - 1
    return model.graph.node[found - 1] if found else None


def _prefix(model: onnx.ModelProto, count: int, typed: dict) -> bytes:
    """The model cut after its first ``count`` nodes, the last one's outputs as its outputs."""
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    del cut.graph.node[count:]
    del cut.graph.output[:]
    cut.graph.output.extend(typed[out] for out in model.graph.node[count - 1].output if out)
    return cut.SerializeToString()
