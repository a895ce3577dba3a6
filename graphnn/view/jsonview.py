"""``graphnn graph --json``: the View as JSON for other tools (schema in docs/graph-json.md).

Keys are stable and every list is in graph order, so two runs give the same text."""
from __future__ import annotations

import json
from typing import Optional

from graphnn.view.model import Node, View
from graphnn.view.tree import ancestors

SCHEMA = "graphnn.graph/1"


def _tensor(view: View, name: str) -> dict:
    tensor = view.tensors[name]
    return {"name": name, "shape": list(tensor.shape) if tensor.shape is not None else None, "dtype": tensor.dtype}


def _node(node: Node) -> dict:
    return {"id": node.id, "name": node.name, "kind": node.kind, "op": node.op, "family": node.family,
            "module": node.module, "source": node.source, "inputs": node.inputs, "outputs": node.outputs,
            "attrs": node.attrs, "macs": node.macs, "notes": node.notes, "weight": node.weight,
            "params": [{"name": p.name, "shape": list(p.shape), "numel": p.numel, "trainable": p.trainable}
                       for p in node.params]}


def _edges(view: View) -> list[dict]:
    producer = {o: n.id for n in view.nodes for o in n.outputs}
    shape = lambda name: list(view.tensors[name].shape or []) or None  # noqa: E731
    return [{"from": producer.get(i), "to": n.id, "tensor": i, "shape": shape(i)}
            for n in view.nodes for i in dict.fromkeys(n.inputs) if i in producer or i in view.inputs]


def _modules(view: View) -> list[dict]:
    paths = sorted({p for n in view.nodes if n.module for p in ancestors(n.module) + [n.module]})
    return [{"path": p, "class": view.modules.get(p), "parent": (ancestors(p) or [None])[-1]} for p in paths]


def to_json(view: View, indent: Optional[int] = 2) -> str:
    read = view.param_totals()
    model = view.totals or read
    document = {
        "schema": SCHEMA, "name": view.name, "origin": view.origin, "symbols": view.symbols,
        "inputs": [_tensor(view, n) for n in view.inputs],
        "outputs": [{**_tensor(view, n), "label": label}
                    for n, label in zip(view.outputs, view.output_names or view.outputs)],
        "nodes": [_node(n) for n in view.nodes],
        "edges": _edges(view),
        "modules": _modules(view),
        "totals": {"params": model.total, "trainable": model.trainable if view.totals else None,
                   "param_bytes": model.nbytes, "macs": sum(n.macs for n in view.nodes if n.macs)},
        "notes": view.notes,
    }
    return json.dumps(document, indent=indent, default=str)
