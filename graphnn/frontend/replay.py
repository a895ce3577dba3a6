"""Replaying a traced torch program through the rules into the IR, for every frontend.

fx's graph, a ``torch.fx.wrap``'ed function's body traced through, torch.export's program and
a saved .pt2 program are all fx graphs: their nodes are resolved against what the replay has
built so far (Refs for tensors, ShapeRefs for shapes, plain Python for constants) and handed
to a rule from ``rules.py``. This base class is that walk, the arithmetic on sizes known at
trace time, and the "not supported" wording; a subclass says only how its targets resolve
(``function_rule``), how its nodes are attributed (``builder``, ``source_of``) and what its
program holds that the others' do not. ``Replay.trace`` is every frontend's way in.
"""
from __future__ import annotations

import abc
import math
import operator
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
import torch.fx as fx

from graphnn.errors import GraphnnError, MissingRuleError, UnsupportedError
from graphnn.frontend.rules import (COMPLEX_REACHES, Builder, Ref, ShapeRef, function_label, function_rule_for,
                                    module_rule_for)
from graphnn.frontend.source import SOURCE_KEY, first_line
from graphnn.hf.cache import dim_relations as cache_dim_relations
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.modes import eval_mode
from graphnn.tensors import dtype_name, is_complex, named_outputs

Rule = Callable[..., Any]

# What an fx graph's nodes do; a node kind a replay has no handler for is refused by name.
NODE_KINDS = ("placeholder", "get_attr", "call_function", "call_method", "call_module", "output")

# Python's arithmetic and comparisons on sizes, as torch.export records them.
PYTHON_OPERATORS = {operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv,
                    operator.mod, operator.neg, operator.pow, operator.eq, operator.ne, operator.lt,
                    operator.le, operator.gt, operator.ge, torch.sym_max, torch.sym_min, torch.sym_int,
                    torch.sym_float, torch.sym_not, math.ceil, math.floor, math.trunc}


class Replay(abc.ABC):
    """Replays a traced program's nodes through the mapping rules into an IR Graph."""

    producer = "the tracer"  # who made the graph, for a node kind nobody converts

    def __init__(self, model: torch.nn.Module, graph: Graph, inputs: Optional[ModelInputs] = None):
        self.model = model
        self.graph = graph
        self.inputs = inputs
        self.env: dict[fx.Node, Any] = {}

    @classmethod
    def trace(cls, model: torch.nn.Module, inputs: ModelInputs) -> Graph:
        """``model`` (in eval mode; the caller's modes are restored) as an IR Graph: the same
        inputs, bare-layer shortcut and DataParallel unwrapping whichever frontend traces."""
        model = unwrap_parallel(model)
        graph = Graph(type(model).__name__)
        with eval_mode(model):
            placeholders = add_graph_inputs(graph, inputs)
            if module_rule_for(model):  # a bare layer: fx would trace into it, so call its rule
                trace_bare_layer(model, graph, placeholders)
            else:
                cls(model, graph, inputs).replay_model(placeholders)
        return graph

    @abc.abstractmethod
    def replay_model(self, placeholders: Sequence[Ref]) -> None:
        """Trace ``self.model`` with this frontend and replay what it recorded."""

    # -------------------------------------------------------------- the walk
    def run_nodes(self, nodes: Iterable[fx.Node]) -> None:
        for node in nodes:
            self.env[node] = self.replayed(node)

    def replayed(self, node: fx.Node) -> Any:
        """What ``node`` is in IR terms, by its kind's handler (a method named after the kind)."""
        handler = getattr(self, node.op, None) if node.op in NODE_KINDS else None
        if handler is None:
            raise UnsupportedError(f"{self.source_of(node) or 'the model'}: {self.producer} produced a "
                                   f"{node.op} node ({node.target}), which graphnn does not convert yet")
        try:
            return handler(node)
        except (GraphnnError, MemoryError):
            raise
        except Exception as exc:  # a rule's own bug: one line naming where, never a traceback
            raise self.rule_failure(node, exc) from None

    def rule_failure(self, node: fx.Node, exc: Exception) -> UnsupportedError:
        """A rule that raised (a bug in graphnn, not in the model), as a one-line report: the
        layer, the user's line, the call, and what went wrong."""
        what = {"call_module": f"layer {node.target}", "call_method": f"tensor method .{node.target}()"}.get(
            node.op, self.label(node.target))
        layer = node.target if node.op == "call_module" else self.enclosing(node)[0]
        where = ", ".join(part for part in (layer, self.source_of(node)) if part) or "the model"
        return UnsupportedError(f"{where}: graphnn's rule for {what} failed ({type(exc).__name__}: "
                                f"{first_line(exc)}); this is a bug in graphnn: please report it with this line")

    def resolve(self, node: fx.Node) -> tuple[list, dict]:
        """The node's arguments as its rule takes them: other nodes replaced by what they became."""
        args = fx.node.map_arg(node.args, lambda n: self.env[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: self.env[n])
        return list(args), dict(kwargs)

    def call_function(self, node: fx.Node) -> Any:
        args, kwargs = self.resolve(node)
        if self.computes_on_numbers(node.target) and not holds_tensors(args, kwargs):
            return node.target(*args, **kwargs)  # arithmetic on facts known now: x.dim() - 2
        builder = self.builder(node)
        rule = self.function_rule(node.target)
        if rule is None:
            return self.without_rule(node, builder, args, kwargs)
        return self.applied(node, builder, rule(builder, *args, **kwargs))

    # -------------------------------------------------------------- what subclasses say
    def computes_on_numbers(self, target: Any) -> bool:
        """Whether ``target`` is Python arithmetic, run as it is when no tensor is involved."""
        return target in PYTHON_OPERATORS

    def function_rule(self, target: Any) -> Optional[Rule]:
        return function_rule_for(target)

    def without_rule(self, node: fx.Node, builder: Builder, args: list, kwargs: dict) -> Any:
        """A call no rule converts."""
        raise self.missing_rule(builder.where, self.label(node.target))

    def applied(self, node: fx.Node, builder: Builder, result: Any) -> Any:
        """A rule's result, after whatever the program says about it beyond the call."""
        return result

    def label(self, target: Any) -> str:
        return function_label(target)

    def source_of(self, node: fx.Node) -> Optional[str]:
        """``model.py:14``: the user's line that made ``node``."""
        return node.meta.get(SOURCE_KEY)

    def enclosing(self, node: fx.Node) -> tuple[Optional[str], Optional[str]]:
        return enclosing_module(self.model, node)

    def builder(self, node: fx.Node) -> Builder:
        """A function call's builder: named after the node, in the user's module it ran in."""
        return self.node_builder(node, node.name, self.label(node.target))

    def node_builder(self, node: fx.Node, name: str, what: str, module: Optional[str] = None,
                     module_class: Optional[str] = None) -> Builder:
        if module is None:  # a function or method: the user's module it ran in (a table row)
            module, module_class = self.enclosing(node)
        return Builder(self.graph, name, module, module_class, self.source_of(node), what)

    @staticmethod
    def unsupported(where: str, what: str, hint: str = "") -> UnsupportedError:
        return UnsupportedError(f"{where}: {what} is not supported by graphnn yet{hint}")

    @staticmethod
    def missing_rule(where: str, what: str, hint: str = "") -> MissingRuleError:
        """The same words, for a call no rule converts at all (``auto`` may try another frontend)."""
        return MissingRuleError(f"{where}: {what} is not supported by graphnn yet{hint}")


def holds_tensors(*values: Any) -> bool:
    """Whether any IR tensor or shape hides in (nested) call arguments."""
    found = []
    fx.node.map_aggregate(values, lambda v: found.append(v) if isinstance(v, (Ref, ShapeRef)) else None)
    return bool(found)


def enclosing_module(model: torch.nn.Module, node: fx.Node) -> tuple[Optional[str], Optional[str]]:
    """The innermost submodule (path, class name) whose forward made ``node``, from the
    ``nn_module_stack`` both fx and torch.export record; (None, None) for the root's own code.
    Consecutive nodes of one module call are one row of ``graphnn graph``."""
    for path, _ in reversed(list((node.meta.get("nn_module_stack") or {}).values())):
        if not path:
            break
        try:
            return path, type(model.get_submodule(path)).__name__
        except AttributeError:
            break
    return None, None


def unwrap_parallel(model: torch.nn.Module) -> torch.nn.Module:
    """DataParallel / DistributedDataParallel only split batches across GPUs: export the model inside."""
    while isinstance(model, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def trace_bare_layer(layer: torch.nn.Module, graph: Graph, inputs: Sequence[Ref]) -> None:
    """``model = nn.Linear(10, 5)``: one layer, named after its class (``linear``)."""
    name = type(layer).__name__.lower()
    builder = Builder(graph, name, name, type(layer).__name__, None, name)
    set_graph_outputs(graph, module_rule_for(layer)(builder, layer, *inputs))


def add_graph_inputs(graph: Graph, inputs: ModelInputs) -> list[Ref]:
    """The model inputs as IR inputs, dynamic dims as symbols (shared by every frontend)."""
    for item in inputs.items:
        graph.add_input(item.name, item.shape(), dtype_name(item.example.dtype))
    graph.symbols.update(inputs.symbols)
    graph.dim_relations.update(cache_dim_relations(graph.symbols))
    return [Ref(item.name) for item in inputs.items]


def set_graph_outputs(graph: Graph, result: Any) -> None:
    """The model's (nested) result as graph outputs, named after dict keys and fields."""
    outputs = named_outputs(result)
    if not any(isinstance(out, Ref) for _, out in outputs):
        raise UnsupportedError(f"the model returns {_returned(result)}, which holds no tensor: an ONNX file "
                               f"needs at least one output; return the tensors to export")
    names, values = [], []
    for name, out in outputs:
        if not isinstance(out, Ref):
            raise UnsupportedError(f"the model returns a non-tensor output {out!r}")
        if is_complex(graph.values[out.name].dtype):
            raise UnsupportedError(COMPLEX_REACHES.format(f"the model's output {name!r}"))
        names.append(name)
        values.append(out.name)
    graph.outputs = values
    graph.output_names = names


def _returned(result: Any) -> str:
    """What forward returned, in words, when it holds no tensor: ``None``, ``()``, ``(2, 3)``."""
    text = repr(result)
    return text if len(text) <= 40 else text[:37] + "..."
