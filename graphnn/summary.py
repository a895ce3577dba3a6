"""The first API of ``graphnn graph``, kept for its callers; the views live in ``graphnn.view``.

``layer_rows`` is one flat row per layer call (tests read it); ``layer_table`` and ``to_dot``
draw a traced graph through the View (module tree, MACs, clusters).
"""
from __future__ import annotations

from typing import Optional

import torch

from graphnn.calls import layer_calls
from graphnn.ir import Graph, Node
from graphnn.view import view_of_graph
from graphnn.view import dot as _dot
from graphnn.view import table as _table
from graphnn.view.model import shape_text


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


def layer_table(graph: Graph, model: Optional[torch.nn.Module] = None, depth: Optional[int] = None) -> str:
    return _table.render(view_of_graph(graph, model), depth)


def to_dot(graph: Graph, model: Optional[torch.nn.Module] = None, depth: Optional[int] = None) -> str:
    return _dot.to_dot(view_of_graph(graph, model), depth)
