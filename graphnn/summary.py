"""What ``graphnn graph`` shows: a layer table, or Graphviz DOT.

Both read only the IR, so they show exactly what export would lower. Node ids in
the DOT are numbered in the IR's stable topological order, so the same model gives
the same text run to run (diffable, cacheable).
"""
from __future__ import annotations

from typing import Optional

import torch

from graphnn.calls import layer_calls
from graphnn.ir import Graph, Node


def shape_text(shape: Optional[tuple]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape is not None else "?"


def node_params(node: Node) -> int:
    return sum(int(t.numel()) for t in node.params.values() if node.op != "constant")


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(total, trainable); tied weights are counted once (model.parameters() dedups)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def layer_rows(graph: Graph) -> list[tuple[str, str, str, str, str]]:
    """(name, type, output shape, params, source) per input and layer call; constants left out."""
    rows = [(name, "input", shape_text(graph.values[name].shape), "", graph.values[name].dtype)
            for name in graph.inputs]
    for call in layer_calls(graph):
        shapes = ", ".join(shape_text(graph.values[o].shape) for o in call.last.outputs)
        count = sum(node_params(n) for n in call.nodes)
        rows.append((call.name, call.kind, shapes, f"{count:,}" if count else "", call.source or ""))
    return rows


def layer_table(graph: Graph, model: Optional[torch.nn.Module] = None) -> str:
    header = ("Layer", "Type", "Output shape", "Params", "Source")
    rows = layer_rows(graph)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    rule = "-" * len(line(tuple("-" * w for w in widths)))
    out = [line(header), rule, *(line(r) for r in rows), rule]
    layers = sum(1 for n in graph.nodes() if n.op != "constant")
    out.append(f"{layers} nodes; outputs: " + ", ".join(
        f"{name} {shape_text(graph.values[name].shape)}" for name in graph.outputs))
    if model is not None:
        total, trainable = count_parameters(model)
        out.append(f"Total params: {total:,} (trainable: {trainable:,})")
    symbols = ", ".join(f"{k}={v}" for k, v in graph.symbols.items())
    if symbols:
        out.append(f"Dynamic dims (example size): {symbols}")
    return "\n".join(out)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT: inputs and outputs as ellipses, layers as boxes labelled with shapes."""
    ids: dict[str, str] = {}
    lines = [f"digraph {_quote(graph.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];']
    for i, name in enumerate(graph.inputs):
        ids[name] = f"in{i}"
        label = f"{name}\\n{shape_text(graph.values[name].shape)}"
        lines.append(f'  in{i} [shape=ellipse, fillcolor="#e8f5e9", label="{_escape(label)}"];')
    nodes = [n for n in graph.nodes() if n.op != "constant"]
    for i, node in enumerate(nodes):
        for out in node.outputs:
            ids[out] = f"n{i}"
        shapes = ", ".join(shape_text(graph.values[o].shape) for o in node.outputs)
        label = f"{node.name}\\n{node.kind}\\n{shapes}"
        lines.append(f'  n{i} [label="{_escape(label)}"];')
    for i, node in enumerate(nodes):
        for value in dict.fromkeys(node.inputs):  # x + x: one arrow
            if value in ids:
                lines.append(f"  {ids[value]} -> n{i};")
    for i, value in enumerate(graph.outputs):
        label = f"output\\n{shape_text(graph.values[value].shape)}"
        lines.append(f'  out{i} [shape=ellipse, fillcolor="#fff3e0", label="{_escape(label)}"];')
        if value in ids:
            lines.append(f"  {ids[value]} -> out{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(label: str) -> str:
    """Escape quotes but keep the \\n line breaks DOT understands."""
    return label.replace('"', '\\"')
