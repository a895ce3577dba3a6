"""The emit context a lowering writes through.

It owns naming, so the ONNX file stays readable in Netron: the first ONNX node of an
IR node is named after the layer path (``layer1.0.conv1``), further ones
``layer1.0.conv1/Add``; initializers are named after the parameter (``fc.weight``);
every node's doc_string says which torch layer and source line it came from.

Weights are the bulk of a model, so an initializer is written once, straight into the
model's GraphProto (``target``), its raw bytes taken from the tensor's own memory: no
numpy copy, no TensorProto copied into the graph afterwards. Given a ``weights`` dict, a
large tensor's bytes are not copied at all: the initializer gets its name, type and dims,
and ``weights`` a numpy view of the tensor, which ``onnxfile.serialize`` writes from.
"""
from __future__ import annotations

import weakref
from typing import Any, Optional, Sequence

import numpy as np
import torch
from onnx import GraphProto, NodeProto, TensorProto, helper, numpy_helper

from graphnn.backend.onnx.targets import DEFAULT_TARGET, TARGETS, Target
from graphnn.ir import Graph, Node
from graphnn.onnxfile.serialize import CHECKED_BYTES
from graphnn.onnxfile.types import onnx_dtype

class EmitContext:
    """Collects ONNX nodes and initializers while lowering one IR graph."""

    def __init__(self, graph: Graph, opset: int, value_names: dict[str, str],
                 target: Optional[GraphProto] = None, weights: Optional[dict[str, np.ndarray]] = None,
                 runs_on: Target = TARGETS[DEFAULT_TARGET]):
        self.graph = graph
        self.runs_on = runs_on  # the runtime the file is for: which contrib kernels a lowering may use
        self.shared: dict = {}  # values a lowering builds once and reuses across nodes (an attention bias)
        self.notes: list[str] = []  # what a lowering chose and why (a fused kernel not used), per layer
        self.weights = weights  # where large tensors' bytes go instead of the proto, if given
        self.opset = opset
        self.nodes: list[NodeProto] = []
        self.target = GraphProto() if target is None else target  # initializers are added here
        self.initializers: dict[str, TensorProto] = {}  # name -> the TensorProto inside target
        self._names = dict(value_names)  # IR value -> ONNX tensor name
        self._taken: set[str] = set(value_names.values()) | set(graph.values)
        self._node_names: set[str] = set()
        self._suffix: dict[tuple, int] = {}  # (namespace, hint) -> last suffix handed out (naming stays linear)
        self._current: Optional[Node] = None
        # storage key -> (initializer name, a reference to the tensor). While the tensor lives,
        # no later temporary can get its memory, so its key identifies it. Tensors owning their
        # memory are referenced weakly, so a temporary (weight.t().contiguous()) is freed once
        # its bytes are in the graph (a dead reference: the key means nothing any more); views
        # (param.reshape(...)) are held, which costs nothing (their base lives in the IR).
        self._stored: dict[tuple, tuple[str, Any]] = {}

    # ------------------------------------------------------------- per IR node
    def begin(self, node: Node) -> None:
        self._current = node

    def inputs(self, node: Node) -> list[str]:
        return [self.name(v) for v in node.inputs]

    def outputs(self, node: Node) -> list[str]:
        return [self.name(v) for v in node.outputs]

    def input(self, node: Node, index: int = 0) -> str:
        return self.name(node.inputs[index])

    def output(self, node: Node, index: int = 0) -> str:
        return self.name(node.outputs[index])

    def name(self, value: str) -> str:
        """The ONNX tensor name of an IR value."""
        return self._names.get(value, value)

    def alias(self, value: str, onnx_name: str) -> None:
        """Let IR ``value`` be read from an existing ONNX tensor (no node needed)."""
        self._names[value] = onnx_name

    def note(self, text: str) -> None:
        """Say why the current layer was lowered as it was; the file's doc string lists the notes."""
        where = self._current.name if self._current else "graph"
        self.notes.append(f"{where}: {text}")

    # ---------------------------------------------------------------- emitting
    def add(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str] | int = 1,
            **attrs: Any) -> list[str]:
        """Add one ONNX node for the current IR node; returns its output names.

        ``outputs`` is a list of names, or a count of fresh temporaries to create.
        ``None`` attributes are dropped, so lowerings can pass optional ones as is.
        """
        node = self._current
        base = node.name if node else op_type
        if isinstance(outputs, int):
            outputs = [self.fresh(f"{base}/{op_type}") for _ in range(outputs)]
        name = base if base not in self._node_names else self._unique_node(f"{base}/{op_type}")
        self._node_names.add(name)
        proto = helper.make_node(op_type, list(inputs), list(outputs), name=name,
                                 **{k: v for k, v in attrs.items() if v is not None})
        if node is not None:
            proto.doc_string = f"{node.kind} at {node.source}" if node.source else node.kind
        self.nodes.append(proto)
        return list(outputs)

    def add1(self, op_type: str, inputs: Sequence[str], output: Optional[str] = None, **attrs: Any) -> str:
        """``add`` for the common one-output case."""
        return self.add(op_type, inputs, [output] if output else 1, **attrs)[0]

    def param(self, node: Node, key: str, tensor: Optional[torch.Tensor] = None) -> str:
        """An initializer for ``node.params[key]`` (or ``tensor``), named ``module.key``."""
        tensor = node.params[key] if tensor is None else tensor
        prefix = node.module or node.name
        return self.initializer(f"{prefix}.{key}" if prefix != key else key, tensor)

    def initializer(self, name: str, tensor: Any) -> str:
        """Add an initializer; the same tensor object shared by two layers is stored once."""
        known = self.existing_initializer(tensor)
        if known is not None:
            return known
        unique = name if name not in self.initializers and name not in self._taken else self.fresh(name)
        self._taken.add(unique)
        proto = self.target.initializer.add()
        if isinstance(tensor, torch.Tensor):
            _fill_from_torch(proto, unique, tensor, self.weights)
        else:
            proto.CopyFrom(numpy_helper.from_array(np.array(tensor, order="C"), unique))  # small constants
        self.initializers[unique] = proto
        key = _storage_key(tensor)
        if key is not None:
            self._stored[key] = (unique, weakref.ref(tensor) if tensor._base is None else lambda: tensor)
        return unique

    def existing_initializer(self, tensor: Any) -> Optional[str]:
        """The initializer already holding ``tensor``'s data (a tied weight), else None."""
        entry = self._stored.get(_storage_key(tensor))
        if entry is None or entry[1]() is None:
            return None
        return entry[0]

    def const(self, values: Any, dtype: str = "int64", hint: str = "const") -> str:
        """A small constant (shape vectors, axes, scalars) as an initializer."""
        base = self._current.name if self._current else "const"
        return self.initializer(f"{base}/{hint}", np.asarray(values, dtype=dtype))

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet: ``hint``, else ``hint_1``, ``hint_2``..."""
        name = _first_free(hint, self._taken, self._suffix, "tensor")
        self._taken.add(name)
        return name

    def _unique_node(self, base: str) -> str:
        return _first_free(base, self._node_names, self._suffix, "node")


def _first_free(base: str, taken: set, suffixes: dict, space: str) -> str:
    """``base`` if free, else the next free ``base_N``; each base resumes at its last N, so
    a thousand ``layer/Add`` cost a thousand lookups, not half a million."""
    if base not in taken:
        return base
    i = suffixes.get((space, base), 0)
    while True:
        i += 1
        name = f"{base}_{i}"
        if name not in taken:
            suffixes[(space, base)] = i
            return name


_RAW_VIEW = {torch.bfloat16: torch.int16, torch.bool: torch.uint8}  # dtypes numpy lacks or packs


def _fill_from_torch(proto: TensorProto, name: str, tensor: torch.Tensor,
                     weights: Optional[dict[str, np.ndarray]]) -> None:
    """Name, type, dims and raw little-endian bytes of ``tensor``: one copy of its memory
    (``tobytes``), which protobuf takes over; or, over CHECKED_BYTES with ``weights`` given,
    a numpy view of its memory, whatever its strides, put in ``weights`` (no copy: the view
    keeps the tensor alive until the file is written, in C order, by ``files``)."""
    data = tensor.detach().cpu()
    proto.name = name
    proto.data_type = onnx_dtype(str(data.dtype).replace("torch.", ""))
    proto.dims.extend(data.shape)
    array = data.view(_RAW_VIEW.get(data.dtype, data.dtype)).numpy()
    if weights is not None and array.nbytes > CHECKED_BYTES:
        weights[name] = array
    else:
        proto.raw_data = array.tobytes()


def _storage_key(tensor: Any) -> Optional[tuple]:
    """Identifies a torch tensor's data, so tied weights become one initializer."""
    if not isinstance(tensor, torch.Tensor) or tensor.numel() == 0:
        return None
    return (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
