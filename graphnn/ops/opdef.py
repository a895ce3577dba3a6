"""OpDef: everything graphnn knows about one canonical op, in one object.

An op's facets (shape rule, MAC rule, label, family) used to live in string-keyed
registries that each spelled the name again, so nothing noticed an op missing one of
them. Now each ``graphnn/ops/<family>.py`` defines its ops as module-level constants
(``RELU = define("relu", shape=same, macs=NO_MACS)``) and everything else, frontend rules
and lowerings included, refers to the constant. The IR stays plain data: ``Node.op`` is
the name; ``opdef(node.op)`` finds the definition.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Union

from graphnn.errors import UnsupportedError

ShapeRule = Callable[..., object]
MacRule = Callable[[list, list, dict], int]
LabelRule = Callable[[dict, dict], dict]


class _NoMacs:
    """The marker for ops without products (activations, reshapes): 0 MACs on purpose,
    told apart from a MAC rule someone forgot."""

    def __repr__(self) -> str:
        return "NO_MACS"


NO_MACS = _NoMacs()


@dataclass(frozen=True, eq=False)  # identity: one object per op, usable as a registry key
class OpDef:
    """``shape(node, *input_values)`` -> TensorType(s); ``macs(input shapes, output shapes,
    {param: shape})`` -> MACs, or NO_MACS; ``label(attrs, weight shapes)`` -> the key attrs
    ``graphnn graph`` shows (None: the generic short-attrs label); ``graph_only``: nothing
    lowers it on purpose (``opaque``); ``complex_inputs``: its lowering reads complex64 inputs
    (ops/spectral.py), which every other op refuses at trace time."""

    name: str
    family: str
    shape: ShapeRule
    macs: Union[MacRule, _NoMacs]
    label: Optional[LabelRule] = None
    graph_only: bool = False
    complex_inputs: bool = False

    def __repr__(self) -> str:
        return f"OpDef({self.name!r})"


_OPDEFS: dict[str, OpDef] = {}


def define(name: str, *, shape: ShapeRule, macs: Union[MacRule, _NoMacs], label: Optional[LabelRule] = None,
           graph_only: bool = False, family: Optional[str] = None, complex_inputs: bool = False) -> OpDef:
    """Define a canonical op; its family is the module calling this unless given."""
    if name in _OPDEFS:
        raise RuntimeError(f"op {name!r} defined twice")
    if family is None:
        family = sys._getframe(1).f_globals["__name__"].rsplit(".", 1)[-1]
    definition = OpDef(name, family, shape, macs, label, graph_only, complex_inputs)
    _OPDEFS[name] = definition
    return definition


def undefine(definition: OpDef) -> None:
    """Forget an op (a test's toy op), so later code never sees it."""
    if _OPDEFS.get(definition.name) is definition:
        del _OPDEFS[definition.name]


def opdef(name: str) -> OpDef:
    """The definition of the op ``name`` (a Node's ``op``)."""
    definition = _OPDEFS.get(name)
    if definition is None:
        raise UnsupportedError(f"op {name!r} is not a canonical graphnn op (graphnn bug or a missing op family)")
    return definition


def find_opdef(name: str) -> Optional[OpDef]:
    """``opdef`` for a name that may not be an IR op (an ONNX op type): None then."""
    return _OPDEFS.get(name)


def all_opdefs() -> Iterator[OpDef]:
    """Every defined op, by name."""
    return iter(sorted(_OPDEFS.values(), key=lambda d: d.name))


def op_names(*definitions: OpDef) -> frozenset[str]:
    """The node ``op`` names of these ops: what a pass matches nodes against."""
    return frozenset(definition.name for definition in definitions)
