"""Shape rules: one function per canonical op, computing output shapes and dtypes.

Rules raise ShapeMismatch with the bare fact ("expects 1568 input features, gets
2048"); ``infer_node`` adds which layer, which source line and which model input, so
every shape error reads the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from graphnn.errors import ShapeError, UnsupportedError
from graphnn.ir import Dim, Graph, Node, Value


@dataclass(frozen=True)
class TensorType:
    """What a rule says about one output. ``known``: the value of an int64 scalar."""

    shape: tuple
    dtype: str
    known: Optional[Dim] = None


class ShapeMismatch(Exception):
    """Raised by shape rules; turned into a ShapeError naming the node."""


ShapeRule = Callable[..., object]
_RULES: dict[str, ShapeRule] = {}


def shape_rule(*ops: str):
    """Register ``fn(node, *input_values) -> TensorType | list[TensorType]`` for ops."""

    def register(fn: ShapeRule) -> ShapeRule:
        for op in ops:
            if op in _RULES:
                raise RuntimeError(f"shape rule for {op!r} registered twice")
            _RULES[op] = fn
        return fn

    return register


def shape_rule_for(op: str) -> ShapeRule:
    try:
        return _RULES[op]
    except KeyError:
        raise UnsupportedError(f"op {op!r} has no shape rule (graphnn bug or missing op family)") from None


def known_ops() -> list[str]:
    return sorted(_RULES)


def shape_error(graph: Graph, where: str, detail: str) -> ShapeError:
    """Every shape error reads the same: ``fc (model.py:14) expects .. for input 1x3x32x32``."""
    feeds = ", ".join(graph.show_shape(graph.values[i].shape) for i in graph.inputs)
    return ShapeError(f"{where} {detail} for input {feeds}")


def infer_node(graph: Graph, node: Node) -> None:
    """Set the shape, dtype and known value of ``node``'s outputs from its inputs."""
    inputs: list[Value] = [graph.values[v] for v in node.inputs]
    try:
        result = shape_rule_for(node.op)(node, *inputs)
    except ShapeMismatch as exc:
        raise shape_error(graph, node.where, str(exc)) from None
    results = result if isinstance(result, list) else [result]
    if len(results) != len(node.outputs):
        raise AssertionError(f"{node.op} rule gave {len(results)} outputs for {len(node.outputs)}")
    for name, tensor_type in zip(node.outputs, results):
        value = graph.values[name]
        value.shape = tuple(tensor_type.shape)
        value.dtype = tensor_type.dtype
        value.known = tensor_type.known
