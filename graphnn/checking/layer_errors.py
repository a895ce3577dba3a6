"""Per-layer parity error: how far each torch.nn layer's ONNX output is from torch's.

Localization stops at the first layer that differs; a page that shows the error growing
through the network needs every layer's number. Both read the same observation
(``localize.observe_layers``: the unoptimized export with each layer's output exposed, torch's
outputs from forward hooks), so the layer the page marks is the one localization names.
A layer's error is judged as parity judges outputs: past tolerance when
``max|onnx - torch| > atol + rtol * max|torch|``; ``ratio`` is the error over that limit
(below 1: the headroom left).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from graphnn.calls import layer_calls
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.build import Export
from graphnn.checking.localize import observe_layers
from graphnn.checking.parity import compare
from graphnn.tensors import to_numpy


@dataclass
class LayerError:
    """One layer call's output error; ``nodes`` are the IR nodes of the call (coloured alike)."""

    node: str  # the IR node holding the call's output
    module: Optional[str]
    nodes: list[str]
    max_abs: float
    max_rel: float
    limit: float  # atol + rtol * max|torch|

    @property
    def ratio(self) -> float:
        return self.max_abs / self.limit if self.limit > 0 else (0.0 if self.max_abs == 0 else float("inf"))

    @property
    def ok(self) -> bool:
        return bool(self.max_abs <= self.limit)


@dataclass
class LayerErrors:
    graph: Graph  # the unoptimized IR the layers belong to
    layers: list[LayerError]  # graph order
    atol: float
    rtol: float
    downstream: list[str] = field(default_factory=list)  # IR nodes fed, directly or not, by the first bad layer

    @property
    def first_bad(self) -> Optional[LayerError]:
        return next((layer for layer in self.layers if not layer.ok), None)


def measure(model: torch.nn.Module, built: Export, inputs: ModelInputs, atol: float, rtol: float) -> LayerErrors:
    """Every observable layer's error of ``built`` on ``inputs``."""
    seen = observe_layers(model, built, inputs)
    members = {call.last.name: [n.name for n in call.nodes] for call in layer_calls(seen.graph)}
    layers = []
    for node, name, expected in seen.pairs:
        wanted, got = to_numpy(expected), np.asarray(seen.results[name])
        diff = compare(node.name, wanted, got, atol, rtol)
        largest = float(np.max(np.abs(wanted))) if wanted.size and np.issubdtype(wanted.dtype, np.number) else 0.0
        layers.append(LayerError(node.name, node.module, members.get(node.name, [node.name]),
                                 float(diff.max_abs), float(diff.max_rel), atol + rtol * largest))
    result = LayerErrors(seen.graph, layers, atol, rtol)
    if result.first_bad is not None:
        result.downstream = _fed_by(seen.graph, result.first_bad.node)
    return result


def _fed_by(graph: Graph, start: str) -> list[str]:
    """Nodes reading ``start``'s output, directly or through others, in graph order."""
    reached = {start}
    produced_by_reached = set(graph.node(start).outputs)
    found = []
    for node in graph.nodes():
        if node.name in reached:
            continue
        if any(i in produced_by_reached for i in node.inputs):
            reached.add(node.name)
            produced_by_reached.update(node.outputs)
            found.append(node.name)
    return found
