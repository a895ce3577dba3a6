"""The View: nodes, tensors, parameters and the module tree of one model, source-neutral.

A traced IR graph and an ONNX file both become a View; everything ``graphnn graph`` prints
reads it. Shapes keep symbolic dims by name; ``symbols`` holds their example sizes, which
multiply-accumulates and memory are counted for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Param:
    """A weight a node reads. ``key`` is the tensor's identity: tied weights share it and
    are counted once. ``trainable`` is None where nobody knows (an ONNX initializer)."""

    name: str
    shape: tuple
    nbytes: int
    trainable: Optional[bool]
    key: Any

    @property
    def numel(self) -> int:
        count = 1
        for d in self.shape:
            count *= int(d)
        return count


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: Optional[tuple]
    dtype: Optional[str]


@dataclass
class Node:
    """One op: an IR node or an ONNX node. ``module`` is the torch layer path it belongs to
    (``layer1.0.conv1``), ``kind`` what a person calls it (``Conv2d``, ``relu``, ``Conv``)."""

    id: str
    name: str
    kind: str
    op: str
    family: str
    inputs: list[str]
    outputs: list[str]
    module: Optional[str] = None
    module_class: Optional[str] = None
    source: Optional[str] = None
    attrs: dict = field(default_factory=dict)  # the key attributes labels show
    params: list[Param] = field(default_factory=list)
    macs: Optional[int] = None  # None: not counted for this op (elementwise, shape ops)
    notes: list[str] = field(default_factory=list)
    weight: bool = False  # a parameter or buffer read as a tensor: drawn apart, no table row


@dataclass
class Totals:
    """Parameters of the whole model (tied weights once)."""

    total: int
    trainable: int
    nbytes: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


@dataclass
class View:
    name: str
    origin: str  # "fx", "export" (the frontend that traced it) or "onnx"
    inputs: list[str]
    outputs: list[str]
    tensors: dict[str, Tensor]
    nodes: list[Node]
    symbols: dict[str, int] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)  # module path -> class name
    output_names: list[str] = field(default_factory=list)
    totals: Optional[Totals] = None  # from the torch model when there is one
    notes: list[str] = field(default_factory=list)  # what the optimizing passes did
    optimized: bool = False  # after the passes: weights are no longer the model's own

    def size(self, dim: Any) -> Optional[int]:
        """A dim's example size: ints as they are, symbols (and ``2*seq``) from ``symbols``."""
        if isinstance(dim, int):
            return dim
        if dim in self.symbols:
            return self.symbols[dim]
        text = re.sub(r"[A-Za-z_]\w*", lambda m: str(self.symbols.get(m.group(0), "?")), str(dim))
        if re.fullmatch(r"[\d\s+\-*/()]+", text):
            return int(eval(text, {"__builtins__": {}}))  # arithmetic on digits only
        return None

    def sizes(self, shape: Optional[tuple]) -> Optional[tuple]:
        """A shape at the example's sizes; None when some dim is unknown."""
        if shape is None:
            return None
        dims = tuple(self.size(d) for d in shape)
        return None if any(d is None for d in dims) else dims

    def param_totals(self) -> Totals:
        """Parameters the graph reads, each tensor once (tied and shared weights once)."""
        unique = {p.key: p for node in self.nodes for p in node.params}
        return Totals(sum(p.numel for p in unique.values()),
                      sum(p.numel for p in unique.values() if p.trainable is not False),
                      sum(p.nbytes for p in unique.values()))

    def layer_nodes(self) -> list[Node]:
        return [n for n in self.nodes if not n.weight]


def shape_text(shape: Optional[tuple]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape is not None else "?"
