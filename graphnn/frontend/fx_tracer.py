"""The torch.fx frontend: symbolic trace, then replay the fx graph through the rules.

fx keeps every ``torch.nn`` layer as one ``call_module`` node and is fast (tens of ms
on torchvision CNNs); what it cannot trace (data-dependent control flow) becomes a
TraceError naming the user's file:line. Everything op-specific lives in the rules
(``frontend/layers``); the walk and argument resolution are ``replay.Replay``'s, so this
module says only what fx's graph holds: layers, attributes, methods, in-place calls, and
Python functions fx kept whole (``torch.fx.wrap``), traced through by ``inline``.
"""
from __future__ import annotations

import contextlib
import inspect
import operator
from typing import Any, Optional, Sequence

import torch
import torch.fx as fx

from graphnn.errors import GraphnnError, TraceError, UnsupportedError
from graphnn.frontend.inline import trace_through
from graphnn.frontend.opaque import Observations, emit_opaque
from graphnn.frontend.replay import Replay, set_graph_outputs
from graphnn.frontend.reproduces import first_difference
from graphnn.frontend.rules import (
    Builder, Ref, kept_whole, layer_label, method_rule_for, module_rule_for, opaque_layers_allowed, unsupported_layer,
)
from graphnn.frontend.source import SOURCE_KEY, TORCH_DIR, first_line, fx_trace_error, innermost_user_line
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph


class _Tracer(fx.Tracer):
    """fx's default leaves (every torch.nn layer but Sequential); each node remembers the
    user's line that created it. (fx's own record_stack_traces would do too, but its first
    use imports torch._inductor: seconds, for one file:line.) The Python functions rules
    keep whole (``kept_whole_under_fx``) stay one call, whether the model names them through
    their module (``nn.utils.rnn.pack_padded_sequence``) or imported them."""

    def __init__(self):
        super().__init__(autowrap_functions=tuple(getattr(module, name) for module, name in kept_whole()))

    def trace(self, root, concrete_args=None):
        with _kept_whole_in_their_modules():
            return super().trace(root, concrete_args)

    def create_node(self, *args, **kwargs) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta[SOURCE_KEY] = innermost_user_line(outermost=_TRACE_ENTRY)
        return node


@contextlib.contextmanager
def _kept_whole_in_their_modules():
    """Each kept-whole function, in its own module, replaced for the trace by fx's wrapper
    (a call_function node when any argument is traced, the function itself otherwise)."""
    originals = [(module, name, getattr(module, name)) for module, name in kept_whole()]
    try:
        for module, name, function in originals:
            setattr(module, name, fx._symbolic_trace._create_wrapped_func(function))
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


_TRACE_ENTRY = fx.Tracer.trace.__code__  # frames beyond it called the tracer (``innermost_user_line``)


def symbolic_trace(model: torch.nn.Module, input_names: Sequence[str]) -> fx.Graph:
    """fx-trace ``model``; tracing failures become TraceError with the user's line."""
    concrete = _defaults_beyond(model, input_names)
    try:
        return _Tracer().trace(model, concrete_args=concrete or None)
    except GraphnnError:
        raise
    except Exception as exc:  # fx raises many kinds; all mean "this forward does not trace"
        raise fx_trace_error(exc) from None


def _defaults_beyond(model: torch.nn.Module, input_names: Sequence[str]) -> dict[str, Any]:
    """Forward parameters that are not inputs keep their defaults as constants."""
    params = list(inspect.signature(model.forward).parameters.values())
    params = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [p for p in params if p.kind != p.KEYWORD_ONLY]
    if len(positional) < len(input_names) and not set(input_names) <= {p.name for p in params}:
        raise TraceError(f"the model's forward takes {len(positional)} inputs, {len(input_names)} were given")
    concrete = {}
    for p in params:
        if p.name in input_names:
            continue
        if p.default is p.empty:
            raise TraceError(
                f"the model's forward needs input {p.name!r} too: pass one --input per forward argument"
            )
        concrete[p.name] = p.default
    return concrete


_INPLACE_OPERATORS = {operator.iadd, operator.isub, operator.imul, operator.itruediv,
                      operator.ifloordiv, operator.imod, operator.ipow, operator.iand, operator.ior}


class FxReplay(Replay):
    """Replays an fx graph: layers by their module rules, functions and methods by theirs."""

    producer = "torch.fx"

    def __init__(self, model: torch.nn.Module, graph: Graph, inputs: Optional[ModelInputs] = None,
                 observations: Optional[Observations] = None):
        super().__init__(model, graph, inputs)
        self.observations = observations or Observations(model, inputs)  # opaque calls (graph-only mode)
        self.fx_graph: Optional[fx.Graph] = None
        self.placeholder_inputs: list = []  # what each placeholder still to come holds

    def replay_model(self, placeholders: Sequence[Ref]) -> None:
        self.run(symbolic_trace(self.model, self.inputs.names), placeholders)

    def run(self, fx_graph: fx.Graph, placeholders: Sequence[Ref]) -> None:
        self.fx_graph = fx_graph
        self.placeholder_inputs = self.placeholder_values(fx_graph, {ref.name: ref for ref in placeholders})
        self.run_nodes(fx_graph.nodes)

    def placeholder_values(self, fx_graph: fx.Graph, inputs: dict) -> list:
        """What each placeholder holds: the input of that forward parameter, else the parameter's
        default (fx renames a concrete ``scale=2.0`` to ``scale_1`` and asserts its value)."""
        params = [p for p in inspect.signature(self.model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        placeholders = [n for n in fx_graph.nodes if n.op == "placeholder"]
        values = []
        for index, node in enumerate(placeholders):
            param = params[index] if index < len(params) else None
            if node.target in inputs or param is None:
                values.append(inputs.get(node.target))
            else:
                values.append(inputs.get(param.name, None if param.default is param.empty else param.default))
        return values

    def placeholder(self, node: fx.Node) -> Any:
        return self.placeholder_inputs.pop(0)

    def output(self, node: fx.Node) -> None:
        result = fx.node.map_arg(node.args[0], lambda n: self.env[n])
        set_graph_outputs(self.graph, result)
        self.refuse_another_program(result)

    def refuse_another_program(self, result: Any) -> None:
        """fx runs the forward's Python on proxies, where a test of a traced value's type
        can take a branch torch does not: the outputs of one eager run must be the trace's."""
        with torch.no_grad():
            eager = self.inputs.call(self.model, [t.clone() for t in self.inputs.tensors])
        difference = first_difference(self.graph, result, eager)
        if difference:
            raise TraceError(f"torch.fx traced another program than torch runs: {difference} (a Python test "
                             f"on a traced value, such as isinstance, went another way under fx); the "
                             f"torch.export frontend traces what torch runs")

    def replayed(self, node: fx.Node) -> Any:
        """After ``x.relu_()`` / ``x += y`` / ``nn.ReLU(inplace=True)(x)``, later reads of ``x``
        must see the new value. fx records the call but keeps ``x`` pointing at the old node,
        so rebind it here. (A mutated *view* of another tensor is not tracked; parity catches it.)"""
        value = super().replayed(node)
        target = node.args[0] if node.args else None
        if isinstance(target, fx.Node) and isinstance(value, Ref) and self.mutates(node):
            self.env[target] = value
        return value

    def mutates(self, node: fx.Node) -> bool:
        if node.kwargs.get("inplace") is True:
            return True
        if node.op == "call_method":
            return node.target.endswith("_") and not node.target.startswith("__")
        if node.op == "call_function":
            return node.target in _INPLACE_OPERATORS or getattr(node.target, "__name__", "").endswith("_")
        if node.op == "call_module":
            return getattr(self.model.get_submodule(node.target), "inplace", False) is True
        return False

    def get_attr(self, node: fx.Node) -> Ref:
        tensor = _fetch_attr(self.model, node.target)
        builder = self.node_builder(node, node.target, node.target, module=node.target)
        if not isinstance(tensor, torch.Tensor):
            raise UnsupportedError(f"{builder.where}: attribute {node.target} is not a tensor")
        return builder.constant(tensor, name=node.target)

    def call_module(self, node: fx.Node) -> Any:
        module = self.model.get_submodule(node.target)
        builder = self.node_builder(node, node.target, node.target, node.target, type(module).__name__)
        rule = module_rule_for(module)
        if rule is None and not (opaque_layers_allowed() and self.inputs is not None):
            raise unsupported_layer(builder.where, module)
        args, kwargs = self.resolve(node)
        if rule is None:
            return self.opaque_layer(builder, module, node.target, args, kwargs)
        return rule(builder, module, *args, **kwargs)

    def opaque_layer(self, builder: Builder, module: torch.nn.Module, path: str, args: list, kwargs: dict) -> Any:
        """A layer without a rule, in graph-only mode: an opaque node with the shapes one real
        forward pass gave (every such layer is observed in that one pass)."""
        leaf = _Tracer().is_leaf_module
        call = self.observations.layer_call(path, lambda p, m: module_rule_for(m) is None and leaf(m, p))
        if call is None:  # fx called it, the real forward did not: nothing honest to show
            raise unsupported_layer(builder.where, module)
        return emit_opaque(builder, layer_label(type(module)), dict(module.named_parameters()), args, kwargs, call)

    def call_method(self, node: fx.Node) -> Any:
        builder = self.node_builder(node, node.name, f"Tensor.{node.target}")
        rule = method_rule_for(node.target)
        if rule is None:
            return self.opaque_call(builder, node, f"Tensor.{node.target}",
                                    self.missing_rule(builder.where, f"tensor method .{node.target}()"))
        args, kwargs = self.resolve(node)
        return rule(builder, *args, **kwargs)

    def computes_on_numbers(self, target: Any) -> bool:
        return getattr(target, "__module__", None) in ("_operator", "operator")

    def without_rule(self, node: fx.Node, builder: Builder, args: list, kwargs: dict) -> Any:
        label = self.label(node.target)
        if _is_python_function(node.target):
            return self.trace_through(node, builder, label, args, kwargs)
        return self.opaque_call(builder, node, label, self.missing_rule(builder.where, f"function {label}"))

    def opaque_call(self, builder: Builder, node: fx.Node, label: str, error: GraphnnError) -> Any:
        """A function or method without a rule, in graph-only mode: an opaque node with the
        shapes a replay of the fx graph gave; ``error`` when there is no replay to read."""
        if not (opaque_layers_allowed() and self.inputs is not None and self.fx_graph is not None):
            raise error
        examples = lambda: self.placeholder_values(  # noqa: E731
            self.fx_graph, {i.name: i.example for i in self.inputs.items})
        call = self.observations.function_call(self.fx_graph, node.name, examples)
        if call is None:
            raise error
        args, kwargs = self.resolve(node)
        return emit_opaque(builder, label, {}, args, kwargs, call)

    def trace_through(self, node: fx.Node, builder: Builder, label: str, args: list, kwargs: dict) -> Any:
        """A Python function fx kept whole (``torch.fx.wrap``): traced through here (``inline``);
        where that fails, a TraceError sends ``auto`` on to torch.export."""
        try:
            return trace_through(InlineReplay(self), node, args, kwargs)
        except Exception as exc:  # anything its body does that fx or a rule cannot follow
            raise TraceError(f"torch.fx kept the Python function {label} opaque (torch.fx.wrap) at "
                             f"{builder.where}, and tracing through it stopped ({first_line(exc)}); "
                             f"torch.export traces through it") from None


class InlineReplay(FxReplay):
    """The nodes fx makes while tracing through a wrapped call (``inline``), replayed one by
    one into the outer replay's IR and env; the tensors the body built in Python are
    constants, and an in-place write is refused (through a view it would go unseen)."""

    def __init__(self, outer: FxReplay):
        super().__init__(outer.model, outer.graph, outer.inputs, outer.observations)
        self.env = outer.env
        self.fx_graph = outer.fx_graph
        self.constants: dict[str, torch.Tensor] = {}

    def replayed(self, node: fx.Node) -> Any:
        if self.mutates(node):
            raise TraceError(f"in-place {node.target} on a traced tensor")
        return super().replayed(node)

    def get_attr(self, node: fx.Node) -> Ref:
        if node.target not in self.constants:
            return super().get_attr(node)
        return self.node_builder(node, node.name, node.name).constant(self.constants[node.target], name=node.name)


def _is_python_function(target: Any) -> bool:
    """A function written in Python outside torch (a model's helper that fx.wrap keeps as one
    call, as torchvision's Swin does): fx cannot see inside it, torch.export can."""
    code = getattr(target, "__code__", None)
    return code is not None and not code.co_filename.startswith(TORCH_DIR)


def _fetch_attr(model: torch.nn.Module, target: str) -> Any:
    obj: Any = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def trace_fx(model: torch.nn.Module, inputs: ModelInputs) -> Graph:
    """Trace ``model`` (in eval mode; the caller's modes are restored) into an IR Graph."""
    return FxReplay.trace(model, inputs)
