"""The graph IR: a DAG of layers and ops on networkx.

Every command walks the same line (trace -> passes -> lower -> run), and this is the
one data structure they share. Design choices worth knowing:

* A Node's ordered inputs (``node.inputs``, a tuple of value names) are the single
  source of truth for data flow. The networkx MultiDiGraph edges (one per input slot,
  keyed by the slot index) are derived from them by the Graph API, so ``sub(a, b)`` and
  ``x + x`` keep their order and multiplicity. Passes use the Graph methods, never the
  networkx object, so the two cannot drift apart.
* Values carry a shape whose dims are ints or symbol names (``"batch"``), and a dtype
  name (``"float32"``). ``graph.symbols`` holds the example size of each symbol so
  messages can show the concrete shape the user passed.
* Node params are torch tensors (weights); attrs are plain Python values.
* Lookups are kept linear in the graph's size (a 2000-layer model is an ordinary
  transformer's ATen graph): who reads each value (``_readers``) and the topological
  order are indices maintained by the same Graph methods that maintain the edges, so
  ``consumers()`` never scans the nodes and ``nodes()`` sorts only after a change.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional, Union

import networkx as nx

Dim = Union[int, str]
Shape = tuple  # tuple[Dim, ...]


@dataclass
class Value:
    """A tensor flowing along an edge. ``known`` holds the value of int64 scalars
    (from ``x.size(0)`` and friends) when it is known: an int or a dim symbol."""

    name: str
    shape: Optional[Shape] = None
    dtype: Optional[str] = None
    known: Optional[Dim] = None


@dataclass
class Node:
    """A layer or op. ``module`` is the qualified module path it came from
    (``layer1.0.conv1``), ``module_class`` its class name, ``source`` the user's
    ``file:line`` where it was called."""

    name: str
    op: str
    inputs: tuple = ()
    outputs: tuple = ()
    attrs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    module: Optional[str] = None
    module_class: Optional[str] = None
    source: Optional[str] = None

    @property
    def where(self) -> str:
        """How messages name this node: ``fc (model.py:14)``."""
        return f"{self.name} ({self.source})" if self.source else self.name

    @property
    def kind(self) -> str:
        """What a person would call it: the torch layer class, else the op name."""
        return self.module_class or self.op


class Graph:
    """Ordered-input DAG of Nodes; see the module docstring."""

    def __init__(self, name: str = "model"):
        self.name = name
        self.values: dict[str, Value] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.output_names: list[str] = []  # what the user calls each output (``logits``); may be empty
        self.symbols: dict[str, int] = {}
        self.dim_relations: dict[str, str] = {}  # a symbol -> the expression it equals (ops/dims.py)
        self.frontend = ""  # which frontend traced it: "fx" or "export"
        self._dag = nx.MultiDiGraph()
        self._producer: dict[str, str] = {}
        self._readers: dict[str, dict[str, None]] = {}  # value -> names of the nodes reading it
        self._order: Optional[list[Node]] = None  # topological order; None after a change
        self._seq = itertools.count()
        self._suffix: dict[str, int] = {}  # base name -> last suffix handed out

    # ----------------------------------------------------------------- building
    def unique_name(self, base: str, taken: Optional[Iterable[str]] = None) -> str:
        """``base`` if free, else ``base_1``, ``base_2``...; free among nodes and values.
        Lookups only, and each base resumes at its last suffix: naming stays linear in the
        number of nodes (a 2000-layer model names thousands of ``linear_N``)."""
        taken = set(taken or ())
        free = lambda name: name not in self._dag and name not in self.values and name not in taken  # noqa: E731
        if free(base):
            return base
        i = self._suffix.get(base, 0)
        while True:
            i += 1
            candidate = f"{base}_{i}"
            if free(candidate):
                self._suffix[base] = i
                return candidate

    def add_input(self, name: str, shape: Shape, dtype: str) -> Value:
        if name in self.values:
            raise ValueError(f"value {name!r} already exists")
        value = Value(name, tuple(shape), dtype)
        self.values[name] = value
        self.inputs.append(name)
        return value

    def add_node(
        self,
        op: str,
        inputs: Iterable[str],
        name: Optional[str] = None,
        num_outputs: int = 1,
        **fields: Any,
    ) -> Node:
        """Add a node whose outputs are new values named after it."""
        node_name = self.unique_name(name or op)
        if num_outputs == 1:  # names are unique across nodes and values, so this one is free
            out_names = (node_name,)
        else:
            out_names = tuple(self.unique_name(f"{node_name}.{i}") for i in range(num_outputs))
        node = Node(node_name, op, tuple(inputs), out_names, **fields)
        for out in out_names:
            self.values[out] = Value(out)
            self._producer[out] = node_name
        self._dag.add_node(node_name, node=node, seq=next(self._seq))
        self._wire(node)
        return node

    def _wire(self, node: Node) -> None:
        """Derive the edges and the reader index from ``node.inputs``."""
        for slot, value in enumerate(node.inputs):
            if value not in self.values:
                raise ValueError(f"{node.name}: input {value!r} does not exist")
            self._readers.setdefault(value, {})[node.name] = None
            src = self._producer.get(value)
            if src is not None:
                self._dag.add_edge(src, node.name, key=slot, value=value)
        self._order = None

    def _unwire(self, node: Node) -> None:
        for src, _, key in list(self._dag.in_edges(node.name, keys=True)):
            self._dag.remove_edge(src, node.name, key=key)
        for value in node.inputs:
            readers = self._readers.get(value)
            if readers is not None:
                readers.pop(node.name, None)
        self._order = None

    def set_inputs(self, node: Node, inputs: Iterable[str]) -> None:
        """Replace a node's ordered inputs (edges follow)."""
        self._unwire(node)
        node.inputs = tuple(inputs)
        self._wire(node)

    def replace_uses(self, old: str, new: str) -> None:
        """Make every consumer of value ``old`` (and the graph outputs) read ``new``."""
        for node in self.consumers(old):
            self.set_inputs(node, [new if v == old else v for v in node.inputs])
        self.outputs = [new if v == old else v for v in self.outputs]

    def remove_node(self, node: Node) -> None:
        """Remove a node; its outputs must have no consumers left."""
        for out in node.outputs:
            users = self.consumers(out)
            if users or out in self.outputs:
                raise ValueError(f"cannot remove {node.name}: {out} is still used")
        self._unwire(node)
        self._dag.remove_node(node.name)
        for out in node.outputs:
            del self.values[out]
            del self._producer[out]
            self._readers.pop(out, None)

    # ------------------------------------------------------------------ queries
    def node(self, name: str) -> Node:
        return self._dag.nodes[name]["node"]

    def __contains__(self, name: str) -> bool:
        return name in self._dag

    def __len__(self) -> int:
        return self._dag.number_of_nodes()

    def nodes(self) -> list[Node]:
        """Nodes in a topological order that is stable run to run (ties by insertion).
        Sorted once after each change, so callers may ask for it in loops."""
        if self._order is None:
            self._order = self._sorted()
        return list(self._order)

    def _sorted(self) -> list[Node]:
        """Kahn's algorithm, always taking the earliest-inserted ready node (a heap on seq)."""
        info = self._dag.nodes
        waiting = {n: self._dag.in_degree(n) for n in self._dag}
        ready = [(info[n]["seq"], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(info[name]["node"])
            for _, dst in self._dag.out_edges(name):
                waiting[dst] -= 1
                if waiting[dst] == 0:
                    heapq.heappush(ready, (info[dst]["seq"], dst))
        if len(order) != len(waiting):
            raise nx.NetworkXUnfeasible("graph has a cycle")
        return order

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes())

    def producer(self, value: str) -> Optional[Node]:
        src = self._producer.get(value)
        return None if src is None else self.node(src)

    def consumers(self, value: str) -> list[Node]:
        """The nodes reading ``value``, in insertion order (each once), from the reader index."""
        names = self._readers.get(value, ())
        info = self._dag.nodes
        return [info[n]["node"] for n in sorted(names, key=lambda n: info[n]["seq"])]

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes()]

    def count(self, op: str) -> int:
        return sum(1 for n in self.nodes() if n.op == op)

    def edges(self) -> list[tuple[str, str, int, str]]:
        """``(producer, consumer, slot, value)`` for every node-to-node edge."""
        return [(u, v, k, d["value"]) for u, v, k, d in self._dag.edges(keys=True, data=True)]

    def show_shape(self, shape: Optional[Shape]) -> str:
        """``1x3x32x32``: a shape as a person passed it, symbols at their example size."""
        if shape is None:
            return "?"
        if len(shape) == 0:
            return "scalar"
        return "x".join(str(self.symbols.get(d, d)) for d in shape)

    # ------------------------------------------------------------------ checks
    def verify(self, require_shapes: bool = True) -> None:
        """Raise AssertionError when the IR is inconsistent (a graphnn bug, not a user error)."""
        assert nx.is_directed_acyclic_graph(self._dag), "graph has a cycle"
        produced = set(self.inputs)
        for node in self.nodes():
            for value in node.inputs:
                assert value in produced, f"{node.name}: input {value} used before it is produced"
            for out in node.outputs:
                assert self._producer.get(out) == node.name, f"{out}: producer map is stale"
                produced.add(out)
            edges_in = sorted((k, d["value"]) for _, _, k, d in self._dag.in_edges(node.name, keys=True, data=True))
            expected = sorted((k, v) for k, v in enumerate(node.inputs) if v not in self.inputs)
            assert edges_in == expected, f"{node.name}: edges {edges_in} disagree with inputs {expected}"
        readers = {v: set(names) for v, names in self._readers.items() if names}
        expected_readers: dict[str, set] = {}
        for node in self.nodes():
            for value in node.inputs:
                expected_readers.setdefault(value, set()).add(node.name)
        assert readers == expected_readers, "reader index disagrees with node inputs"
        for out in self.outputs:
            assert out in produced, f"graph output {out} is not produced"
        if require_shapes:
            for name in produced:
                value = self.values[name]
                assert value.shape is not None and value.dtype is not None, f"{name}: shape unknown"

    def copy(self) -> "Graph":
        """An independent graph (params tensors are shared: passes replace, never mutate, them)."""
        other = Graph(self.name)
        other.symbols = dict(self.symbols)
        other.dim_relations = dict(self.dim_relations)
        other.frontend = self.frontend
        for name in self.inputs:
            v = self.values[name]
            other.add_input(name, v.shape, v.dtype)
        for node in self.nodes():
            clone = Node(node.name, node.op, node.inputs, node.outputs, dict(node.attrs),
                         dict(node.params), node.module, node.module_class, node.source)
            for out in node.outputs:
                v = self.values[out]
                other.values[out] = Value(out, v.shape, v.dtype, v.known)
                other._producer[out] = node.name
            other._dag.add_node(node.name, node=clone, seq=next(other._seq))
        for node in other.nodes():
            other._wire(node)
        other.outputs = list(self.outputs)
        other.output_names = list(self.output_names)
        return other
