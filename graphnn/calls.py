"""Layer calls: the runs of IR nodes that one call of one torch layer produced.

A layer may become several IR nodes (a TransformerEncoderLayer's residual adds, the ATen ops
of a MultiheadAttention under the torch.export frontend), all carrying its module path.
Consecutive nodes with the same module path are one call; its output is the last node's.
In the model's own forward (no submodule), consecutive nodes of one source line are one row.
The layer table shows one row per call, and parity localization compares each call's
output with what the torch layer returned.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from graphnn.ir import Graph, Node


@dataclass
class LayerCall:
    nodes: list[Node]

    @property
    def module(self) -> Optional[str]:
        return self.nodes[0].module

    @property
    def module_class(self) -> Optional[str]:
        return self.nodes[0].module_class

    @property
    def last(self) -> Node:
        return self.nodes[-1]

    @property
    def name(self) -> str:
        return self.module or self.last.name

    @property
    def kind(self) -> str:
        if self.module or len(self.nodes) == 1:
            return self.nodes[0].kind
        extra = len(self.nodes) - 1
        return f"{self.last.kind} (+{extra} op{'s' if extra > 1 else ''})"

    @property
    def source(self) -> Optional[str]:
        return self.nodes[0].source

    @property
    def where(self) -> str:
        return f"{self.name} ({self.source})" if self.source else self.name


def layer_calls(graph: Graph, skip_constants: bool = True) -> list[LayerCall]:
    """Nodes in graph order, consecutive nodes of the same layer (module path) merged."""
    calls: list[LayerCall] = []
    for node in graph.nodes():
        if skip_constants and node.op == "constant":
            continue
        previous = calls[-1].nodes[-1] if calls else None
        if previous is not None and _same_call(previous, node):
            calls[-1].nodes.append(node)
        else:
            calls.append(LayerCall([node]))
    return calls


def _same_call(previous: Node, node: Node) -> bool:
    """Same layer (module path), or, in the model's own forward, the same source line (a
    mask built from ten ATen ops in one line of a transformer is one row)."""
    if node.module or previous.module:
        return node.module == previous.module and node.module_class == previous.module_class
    return node.source is not None and node.source == previous.source
