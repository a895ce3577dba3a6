"""Layer calls and the module tree, shared by the table, the DOT clusters and the JSON.

A call is a run of consecutive nodes of one module (a Conv2d, a TransformerEncoderLayer's
residual adds, the ATen ops of an attention block); in the model's own forward, consecutive
nodes of one source line. ``depth`` collapses the tree: a node deeper than ``depth`` counts
as its ancestor at ``depth`` (a ResNet block becomes one call).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from graphnn.view.model import Node, View


def module_at(path: Optional[str], depth: Optional[int]) -> Optional[str]:
    """``layer1.0.conv1`` at depth 2 is ``layer1.0``."""
    if path is None or not depth:
        return path
    parts = path.split(".")
    return ".".join(parts[:depth]) if len(parts) > depth else path


def ancestors(path: Optional[str]) -> list[str]:
    """``layer1.0.conv1`` -> ``["layer1", "layer1.0"]`` (outermost first)."""
    if not path:
        return []
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@dataclass
class Call:
    module: Optional[str]  # the (collapsed) module path; None for the model's own forward
    nodes: list[Node]
    collapsed: bool = False  # deeper modules folded into this one by --depth
    params: dict = field(default_factory=dict)  # Param.key -> Param, weight nodes read included

    @property
    def last(self) -> Node:
        return self.nodes[-1]

    @property
    def macs(self) -> Optional[int]:
        known = [n.macs for n in self.nodes if n.macs is not None]
        return sum(known) if known or not self.nodes else None

    @property
    def source(self) -> Optional[str]:
        return next((n.source for n in self.nodes if n.source), None)

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(note for n in self.nodes for note in n.notes))


def calls(view: View, depth: Optional[int] = None) -> list[Call]:
    """The layer calls in execution order; parameters read through weight nodes included."""
    weights = {o: n for n in view.nodes if n.weight for o in n.outputs}
    result: list[Call] = []
    previous_key = None
    for node in view.layer_nodes():
        module = module_at(node.module, depth)
        key = ("module", module) if module else ("line", node.source or node.id)
        if result and key == previous_key:
            call = result[-1]
        else:
            call = Call(module, [])
            result.append(call)
        previous_key = key
        call.nodes.append(node)
        call.collapsed |= module != node.module
        for param in node.params + [p for i in node.inputs if i in weights for p in weights[i].params]:
            call.params.setdefault(param.key, param)
    return result


def parents(all_calls: list[Call]) -> set[str]:
    """Module paths that contain other calls' modules: they get a header row / a cluster."""
    found = set()
    for call in all_calls:
        found.update(ancestors(call.module))
    return found
