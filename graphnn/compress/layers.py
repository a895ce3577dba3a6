"""The torch layer behind each ONNX node, so a search can convert or keep whole layers and
name them the way the user wrote them (``encoder.layer.3.output.dense (modeling_bert.py:512)``).

graphnn's lowering names every ONNX node after its IR node (``fc1`` or ``fc1/Add``) and the
IR node knows its module path and source line; without the IR (a file from elsewhere) the
node's own name and doc_string (``Linear at model.py:14``) say as much.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import onnx

from graphnn.ir import Graph


@dataclass(frozen=True)
class Layer:
    name: str                 # the module path (or the node's name)
    source: str               # file:line, "" when unknown
    nodes: tuple[str, ...]    # the ONNX node names it covers

    @property
    def where(self) -> str:
        return f"{self.name} ({self.source})" if self.source else self.name


def node_layers(model: onnx.ModelProto, graph: Optional[Graph] = None,
                keep: Callable[[onnx.NodeProto], bool] = lambda node: True) -> list[Layer]:
    """The layers of the nodes ``keep`` accepts, in graph order; one layer's nodes are grouped
    by its module path (several IR nodes of one BertSelfAttention are one layer)."""
    origins = _ir_origins(graph)
    grouped: dict[str, list] = {}
    sources: dict[str, str] = {}
    for node in model.graph.node:
        if not keep(node):
            continue
        name, source = origins.get(node.name.split("/")[0]) or (node.name, _doc_source(node))
        grouped.setdefault(name, []).append(node.name)
        sources.setdefault(name, source)
    return [Layer(name, sources[name], tuple(nodes)) for name, nodes in grouped.items()]


def _ir_origins(graph: Optional[Graph]) -> dict[str, tuple[str, str]]:
    """IR node name -> (module path or node name, short source)."""
    if graph is None:
        return {}
    return {node.name: (node.module or node.name, _short(node.source)) for node in graph.nodes()}


def _doc_source(node: onnx.NodeProto) -> str:
    """``Linear at model.py:14`` -> ``model.py:14`` (graphnn's doc_string), else ""."""
    return _short(node.doc_string.rsplit(" at ", 1)[1]) if " at " in node.doc_string else ""


def _short(source: Optional[str]) -> str:
    return (source or "").replace("\\", "/").rsplit("/", 1)[-1]
