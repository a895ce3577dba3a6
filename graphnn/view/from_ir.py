"""A traced (or optimized) IR graph as a View.

Parameters are told from buffers, and trainable from frozen, by the tensor itself: a node's
weights are the model's own tensors (shared storage), so looking them up in the model says
what each one is and which are the same tensor (tied weights count once). Weights made by a
pass (a conv with a BatchNorm folded in) are parameters of unknown trainability.
"""
from __future__ import annotations

from typing import Optional

import torch

from graphnn.ir import Graph, Node as IRNode
from graphnn.ops.opdef import find_opdef
from graphnn.view.changes import Marks
from graphnn.view.labels import key_attrs
from graphnn.view.macs import ir_count
from graphnn.view.model import Node, Param, Tensor, Totals, View

BUFFER_KEYS = {"running_mean", "running_var", "num_batches_tracked"}


class _Tensors:
    """What the model says about each of its tensors, by storage."""

    def __init__(self, model: Optional[torch.nn.Module]):
        self.params: dict[int, tuple[str, bool]] = {}
        self.buffers: dict[int, str] = {}
        if model is None:
            return
        for name, p in model.named_parameters(remove_duplicate=True):
            self.params.setdefault(_storage(p), (name, p.requires_grad))
        for name, b in model.named_buffers(remove_duplicate=True):
            self.buffers.setdefault(_storage(b), name)

    def param(self, tensor: torch.Tensor, key: str, owner: str) -> Optional[Param]:
        """The Param for a node's weight, None for a buffer (running statistics)."""
        storage = _storage(tensor)
        if storage in self.buffers or (storage not in self.params and key in BUFFER_KEYS):
            return None
        name, trainable = self.params.get(storage, (f"{owner}.{key}", None))
        return Param(name, tuple(tensor.shape), tensor.numel() * tensor.element_size(), trainable,
                     (storage, tensor.storage_offset(), tuple(tensor.shape)))

    def known(self, tensor: torch.Tensor) -> bool:
        storage = _storage(tensor)
        return storage in self.params or storage in self.buffers


def _storage(tensor: torch.Tensor) -> int:
    """Where the tensor's data lives: tied weights and a layer's view of its parameter agree."""
    try:
        pointer = tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage (quantized, sparse)
        pointer = 0
    return pointer or id(tensor)  # empty tensors all sit at 0: tell them apart by object


def model_totals(model: torch.nn.Module) -> Totals:
    """``sum(p.numel() for p in model.parameters())``: tied weights once, as torch counts."""
    params = list(model.parameters())
    return Totals(sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad),
                  sum(p.numel() * p.element_size() for p in params))


def family_of(op: str) -> str:
    """The op family: the ``graphnn/ops`` module that defines the op."""
    definition = find_opdef(op)
    return definition.family if definition is not None else "other"


def view_of_graph(graph: Graph, model: Optional[torch.nn.Module] = None, marks: Optional[Marks] = None) -> View:
    """The View of ``graph``; with ``model``, parameters are checked against it and the
    totals are the model's own; ``marks`` (from ``optimize_with_marks``) say what the passes did."""
    known = _Tensors(model)
    view = View(graph.name, graph.frontend or "fx", list(graph.inputs), list(graph.outputs),
                {name: Tensor(name, v.shape, v.dtype) for name, v in graph.values.items()}, [],
                dict(graph.symbols), output_names=list(graph.output_names))
    torch_layers = _torch_layers(model)
    for node in graph.nodes():
        converted = (_weight_node(node, known) if node.op == "constant"
                     else _op_node(view, node, known, torch_layers))
        if converted is not None:
            view.nodes.append(converted)
    _drop_unread_weights(view)
    view.modules = _module_classes(model, graph)
    view.totals = model_totals(model) if model is not None else None
    if marks is not None:
        view.optimized = True
        for node in view.nodes:
            node.notes.extend(marks.on_nodes.get(node.name, []))
        view.notes = [f"Passes: {'; '.join(marks.removed)}"] if marks.removed else []
    return view


def _weight_node(node: IRNode, known: _Tensors) -> Optional[Node]:
    """A model parameter or buffer read as a tensor (``x + self.pos_embed``); other constants
    (Python numbers) are not drawn."""
    tensor = node.params.get("value")
    if tensor is None or not known.known(tensor):
        return None
    param = known.param(tensor, "value", node.name)
    kind = "parameter" if param is not None else "buffer"
    return Node(node.name, node.name, kind, "constant", kind, [], list(node.outputs), node.module,
                None, node.source, {}, [param] if param else [], None, [], weight=True)


def _torch_layers(model: Optional[torch.nn.Module]) -> Optional[set]:
    """Paths of torch's own layers; None without a model (then every module class counts)."""
    if model is None:
        return None
    return {path for path, m in model.named_modules() if type(m).__module__.startswith("torch.")}


def _kind(node: IRNode, torch_layers: Optional[set]) -> str:
    """``Conv2d`` for a torch layer's node; the op (``add``) for a user module's own ops."""
    if node.op == "opaque":
        return node.attrs.get("layer", "opaque").removeprefix("nn.")
    if node.module_class and (torch_layers is None or node.module in torch_layers):
        return node.module_class
    return node.op


def _op_node(view: View, node: IRNode, known: _Tensors, torch_layers: Optional[set]) -> Node:
    owner = node.module or node.name
    params = [p for key, t in node.params.items() if isinstance(t, torch.Tensor)
              for p in [known.param(t, key, owner)] if p is not None]
    weights = {k: tuple(t.shape) for k, t in node.params.items() if isinstance(t, torch.Tensor)}
    ins = [view.sizes(view.tensors[i].shape) for i in node.inputs]
    outs = [view.sizes(view.tensors[o].shape) for o in node.outputs]
    macs = node.attrs.get("macs") if node.op == "opaque" else ir_count(node.op, ins, outs, weights)
    notes = ["no rule: export tries torch.export"] if node.op == "opaque" else []  # auto falls back; the export may still refuse it
    return Node(node.name, node.name, _kind(node, torch_layers), node.op, family_of(node.op),
                list(node.inputs), list(node.outputs), node.module, node.module_class, node.source,
                key_attrs(node.op, node.attrs, weights), params, macs, notes)


def _drop_unread_weights(view: View) -> None:
    read = {i for n in view.nodes for i in n.inputs} | set(view.outputs)
    view.nodes = [n for n in view.nodes if not n.weight or any(o in read for o in n.outputs)]


def _module_classes(model: Optional[torch.nn.Module], graph: Graph) -> dict[str, str]:
    classes = {n.module: n.module_class for n in graph.nodes() if n.module and n.module_class}
    if model is not None:
        classes.update({path: type(m).__name__ for path, m in model.named_modules() if path})
    return classes
