"""Graphviz DOT of a View, built with the ``graphviz`` package (it quotes and escapes).

One nested cluster per module that holds more than one drawn node (a ResNet block, an
attention layer), node labels with the layer type and its key attributes, edges labelled
with tensor shapes, inputs / outputs / parameters drawn apart, fill colours by op family.
Node ids are the graph's own names (``layer1.0.conv1``), so two runs give the same text and
a changed model diffs by layer name. ``depth`` draws a module below that depth as one node.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import graphviz

from graphnn.view.model import Node, View, shape_text
from graphnn.view.tree import ancestors, calls

FAMILY_COLOURS = {
    "conv": "#d6e6f7", "linear": "#e2dcf3", "norm": "#fcf0c8", "activation": "#ffe1cc",
    "pool": "#d5f0df", "recurrent": "#f7d5e2", "attention": "#f0d6f6", "transformer": "#f0d6f6",
    "embedding": "#e3efd0", "quantized": "#e2dcf3", "shape": "#eeeeee", "structural": "#eeeeee",
    "indexing": "#eeeeee", "elementwise": "#f6f6f6", "reduce": "#f6f6f6", "loss": "#fde2e2",
    "module": "#e8eef8",
}
DEFAULT_COLOUR = "#ffffff"
INPUT_STYLE = dict(shape="ellipse", style="filled", fillcolor="#e8f5e9")
OUTPUT_STYLE = dict(shape="ellipse", style="filled", fillcolor="#fff3e0")
WEIGHT_STYLE = dict(shape="note", style="filled", fillcolor="#f0f0f0", fontsize="10")
OPAQUE_STYLE = dict(shape="box", style="dashed,rounded", color="#c62828")


@dataclass
class Unit:
    """One drawn node: a view node, or a module collapsed by ``depth``."""

    id: str
    module: Optional[str]
    label: str
    style: dict
    nodes: list[Node] = field(default_factory=list)
    collapsed: bool = False

    @property
    def clusters(self) -> list[str]:
        """The module paths enclosing this node, outermost first."""
        own = [] if self.collapsed or not self.module else [self.module]
        return ancestors(self.module) + own


NEWLINE = "\\n"  # DOT's line break inside a label


def _label(title: str, kind: str, attrs: dict, params: int, notes: list[str]) -> str:
    """Name, type, key attributes, parameter count and notes, one per line."""
    lines = [title] if title == kind else [title, kind]
    details = ", ".join(k if v is True else f"{k} {v}" for k, v in attrs.items() if v not in (None, "", False))
    if details:
        lines.append(details)
    if params:
        lines.append(f"{params:,} params")
    lines.extend(notes)
    return NEWLINE.join(_escape(line) for line in lines)


def _escape(text: str) -> str:
    """A backslash in a name prints as itself (the graphviz package passes escapes through)."""
    return text.replace("\\", "\\\\")


def _node_unit(node: Node, shared: bool = False) -> Unit:
    """``shared``: the node is one of several of its module (an attention layer's ops), so its
    label names the op beside the layer class."""
    params = sum(p.numel for p in node.params)
    kind = f"{node.kind} / {node.op}" if shared and node.kind != node.op else node.kind
    if node.weight:  # a parameter or buffer read as a tensor: its name, kind and shape
        shape = "x".join(map(str, node.params[0].shape)) if node.params else ""
        return Unit(node.id, node.module, _label(node.name, f"{node.kind} {shape}".rstrip(), {}, 0, []),
                    WEIGHT_STYLE, [node])
    style = OPAQUE_STYLE if node.family == "opaque" else dict(
        shape="box", style="rounded,filled", fillcolor=FAMILY_COLOURS.get(node.family, DEFAULT_COLOUR))
    return Unit(node.id, node.module, _label(node.name, kind, node.attrs, params, node.notes), style, [node])


def units(view: View, depth: Optional[int] = None) -> list[Unit]:
    """What gets drawn, in graph order: weight nodes, then each call (collapsed or per node)."""
    drawn = [_node_unit(n) for n in view.nodes if n.weight]
    per_module = Counter(n.module for n in view.layer_nodes())
    seen: Counter = Counter()
    for call in calls(view, depth):
        if not call.collapsed:
            drawn.extend(_node_unit(n, per_module[n.module] > 1) for n in call.nodes)
            continue
        seen[call.module] += 1
        suffix = "" if seen[call.module] == 1 else f"#{seen[call.module]}"
        kind = view.modules.get(call.module, "module")
        params = sum(p.numel for p in call.params.values())
        label = _label(call.module, kind, {}, params, [f"{len(call.nodes)} ops", *call.notes])
        drawn.append(Unit(call.module + suffix, call.module, label,
                          dict(shape="box3d", style="filled", fillcolor=FAMILY_COLOURS["module"]),
                          call.nodes, collapsed=True))
    return drawn


def node_id(name: str) -> str:
    """A DOT id from a graph name; ``:`` would read as a port, so it becomes ``_``."""
    return name.replace(":", "_")


def to_graphviz(view: View, depth: Optional[int] = None) -> graphviz.Digraph:
    dot = graphviz.Digraph(view.name, graph_attr=dict(rankdir="TB", fontname="Helvetica", fontsize="11"),
                           node_attr=dict(fontname="Helvetica", fontsize="11"),
                           edge_attr=dict(fontname="Helvetica", fontsize="9", color="#555555"))
    drawn = units(view, depth)
    for unit in drawn:
        unit.id = node_id(unit.id)
    producer = {o: u.id for u in drawn for n in u.nodes for o in n.outputs}
    for name in view.inputs:
        tensor = view.tensors[name]
        dot.node(node_id(f"input/{name}"), _label(name, shape_text(tensor.shape), {}, 0, [tensor.dtype or ""]),
                 **INPUT_STYLE)
        producer[name] = node_id(f"input/{name}")
    _add_clusters(dot, view, drawn)
    for unit in drawn:
        inside = {o for n in unit.nodes for o in n.outputs}
        for value in dict.fromkeys(i for n in unit.nodes for i in n.inputs):
            if value not in inside and value in producer:
                dot.edge(producer[value], unit.id, label=shape_text(view.tensors[value].shape))
    for index, (value, label) in enumerate(zip(view.outputs, view.output_names or view.outputs)):
        tensor = view.tensors[value]
        dot.node(node_id(f"output/{label}"), _label(label, shape_text(tensor.shape), {}, 0, []), **OUTPUT_STYLE)
        if value in producer:
            dot.edge(producer[value], node_id(f"output/{label}"), label=shape_text(tensor.shape))
    return dot


def _add_clusters(dot: graphviz.Digraph, view: View, drawn: list[Unit]) -> None:
    """Nested ``cluster_<module>`` subgraphs for modules holding two or more drawn nodes."""
    holds = Counter(path for u in drawn for path in u.clusters)
    tree: dict = {}
    for unit in drawn:
        branch = tree
        for path in (p for p in unit.clusters if holds[p] > 1):
            branch = branch.setdefault(path, {})
        branch.setdefault(None, []).append(unit)
    _emit(dot, view, tree)


def _emit(target: graphviz.Digraph, view: View, branch: dict) -> None:
    for unit in branch.get(None, []):
        target.node(unit.id, unit.label, **unit.style)
    for path, child in branch.items():
        if path is None:
            continue
        with target.subgraph(name=f"cluster_{path}") as cluster:
            kind = view.modules.get(path)
            cluster.attr(label=f"{path}: {kind}" if kind else path, style="rounded,dashed",
                         color="#7a8ca5", fontcolor="#33415c", labeljust="l")
            _emit(cluster, view, child)


def to_dot(view: View, depth: Optional[int] = None) -> str:
    return to_graphviz(view, depth).source
