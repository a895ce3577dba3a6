"""Shape inference: each canonical op's OpDef holds its shape rule (graphnn/ops/opdef.py).

Rules raise ShapeMismatch with the bare fact ("expects 1568 input features, gets
2048"); ``infer_node`` adds which layer, which source line and which model input, so
every shape error reads the same way.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Mapping, Optional

from graphnn.errors import ShapeError
from graphnn.ir import Dim, Graph, Node, Value
from graphnn.ops.opdef import all_opdefs, opdef


@dataclass(frozen=True)
class TensorType:
    """What a rule says about one output. ``known``: the value of an int64 scalar."""

    shape: tuple
    dtype: str
    known: Optional[Dim] = None


class ShapeMismatch(Exception):
    """Raised by shape rules; turned into a ShapeError naming the node."""


def known_ops() -> list[str]:
    return [definition.name for definition in all_opdefs()]


def shape_error(graph: Graph, where: str, detail: str) -> ShapeError:
    """Every shape error reads the same: ``fc (model.py:14) expects .. for input 1x3x32x32``."""
    feeds = ", ".join(graph.show_shape(graph.values[i].shape) for i in graph.inputs)
    return ShapeError(f"{where} {detail} for input {feeds}")


_RELATIONS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("dim_relations", default={})


def dim_relations() -> Mapping[str, str]:
    """The graph's known equal dims (a symbol -> its expression) while a rule runs."""
    return _RELATIONS.get()


def infer_node(graph: Graph, node: Node) -> None:
    """Set the shape, dtype and known value of ``node``'s outputs from its inputs."""
    inputs: list[Value] = [graph.values[v] for v in node.inputs]
    token = _RELATIONS.set(graph.dim_relations)
    try:
        result = opdef(node.op).shape(node, *inputs)
    except ShapeMismatch as exc:
        raise shape_error(graph, node.where, str(exc)) from None
    finally:
        _RELATIONS.reset(token)
    results = result if isinstance(result, list) else [result]
    if len(results) != len(node.outputs):
        raise AssertionError(f"{node.op} rule gave {len(results)} outputs for {len(node.outputs)}")
    for name, tensor_type in zip(node.outputs, results):
        value = graph.values[name]
        value.shape = tuple(tensor_type.shape)
        value.dtype = tensor_type.dtype
        value.known = tensor_type.known
