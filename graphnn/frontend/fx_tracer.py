"""The torch.fx frontend: symbolic trace, then replay the fx graph through the rules.

fx keeps every ``torch.nn`` layer as one ``call_module`` node and is fast (tens of ms
on torchvision CNNs); what it cannot trace (data-dependent control flow) becomes a
TraceError naming the user's file:line. Everything op-specific lives in the rules
(``frontend/layers``); this module only walks fx nodes and resolves their arguments.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
import operator
import os
import sys
import sysconfig
import traceback
from typing import Any, Optional, Sequence

import torch
import torch.fx as fx

from graphnn.errors import GraphnnError, TraceError, UnsupportedError
from graphnn.frontend.rules import (
    Builder, Ref, ShapeRef, function_label, function_rule_for, layer_label, method_rule_for,
    module_rule_for, opaque_layers_allowed, unsupported_layer,
)
from graphnn.ir import Graph
from graphnn.modes import eval_mode
from graphnn.inputs import ModelInputs
from graphnn.tensors import dtype_name, named_outputs

# With the separator: .../site-packages/torchvision is not inside .../site-packages/torch.
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_GRAPHNN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_SOURCE = "graphnn_source"


class _Tracer(fx.Tracer):
    """fx's default leaves (every torch.nn layer but Sequential); each node remembers the
    user's line that created it. (fx's own record_stack_traces would do too, but its first
    use imports torch._inductor: seconds, for one file:line.)"""

    def create_node(self, *args, **kwargs) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta[_SOURCE] = _innermost_user_line()
        return node


def _package_dirs(*names: str) -> tuple[str, ...]:
    """Folders of packages whose frames are never the user's: the CLI (``graphnn.cli`` lives in
    the repository's cli/ when installed editable) and click under it."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None:
            dirs += [os.path.abspath(d) + os.sep for d in spec.submodule_search_locations or []]
    return tuple(dirs)


_NOT_USER_DIRS = (_TORCH_DIR, _GRAPHNN_DIR) + _package_dirs("graphnn.cli", "click")


_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_SITE = tuple({sysconfig.get_paths()[k] + os.sep for k in ("purelib", "platlib")})  # may lie inside _STDLIB


@functools.lru_cache(maxsize=4096)
def _is_user_file(path: str) -> bool:
    """Cached: every traced node walks some twenty frames of a handful of files."""
    path = os.path.abspath(path)
    if path.startswith(_STDLIB) and not path.startswith(_SITE):  # runpy, contextlib...
        return False
    return not (path.startswith(_NOT_USER_DIRS) or "<" in path)


def _innermost_user_line() -> Optional[str]:
    frame = sys._getframe(1)
    while frame is not None:
        if _is_user_file(frame.f_code.co_filename):
            return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def source_of(fx_node: fx.Node) -> Optional[str]:
    """``model.py:14``: the user's line that made this fx node."""
    return fx_node.meta.get(_SOURCE)


def _user_line_of(exc: BaseException) -> str:
    """The innermost user frame of an exception raised while tracing."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_file(f.filename)]
    if not frames:
        return "the model's forward"
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"{os.path.basename(frame.filename)}:{frame.lineno}{code}"


def symbolic_trace(model: torch.nn.Module, input_names: Sequence[str]) -> fx.Graph:
    """fx-trace ``model``; tracing failures become TraceError with the user's line."""
    concrete = _defaults_beyond(model, input_names)
    try:
        return _Tracer().trace(model, concrete_args=concrete or None)
    except GraphnnError:
        raise
    except Exception as exc:  # fx raises many kinds; all mean "this forward does not trace"
        raise _fx_trace_error(exc) from None


# A branch whose line reads one of these tests a shape or dtype, not the tensor's values.
_STATIC_FACTS = (".dtype", ".shape", ".size(", ".dim(", ".ndim", "is_floating_point", "len(", ".device")


def _fx_trace_error(exc: BaseException) -> TraceError:
    """Why fx stopped, in the user's terms. Iterating or unpacking a traced value (a shape,
    a split's result) and branching on a shape or dtype are fx's limits, not the model's:
    they say so (and `auto` goes on with torch.export); only a branch on a tensor's values
    is data-dependent control flow."""
    where = _user_line_of(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "iterate" in text:
        return TraceError(f"torch.fx cannot iterate or unpack a traced value (a shape, a split's "
                          f"result) at {where}")
    if "control flow" in text or "bool" in text.lower():
        if any(fact in where for fact in _STATIC_FACTS):
            return TraceError(f"torch.fx cannot evaluate a branch on a tensor's shape or dtype at {where}")
        return TraceError(
            f"data-dependent control flow at {where}: graphnn traces the model once, so "
            f"Python branches or loops on tensor values cannot be exported; rewrite it "
            f"with tensor ops (e.g. torch.where)")
    return TraceError(f"cannot trace the model at {where}: {text}")


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


def _holds_tensors(*values: Any) -> bool:
    """Whether any IR tensor or shape hides in (nested) call arguments."""
    found = []
    fx.node.map_aggregate(values, lambda v: found.append(v) if isinstance(v, (Ref, ShapeRef)) else None)
    return bool(found)


def unwrap_parallel(model: torch.nn.Module) -> torch.nn.Module:
    """DataParallel / DistributedDataParallel only split batches across GPUs: export the model inside."""
    while isinstance(model, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


_INPLACE_OPERATORS = {operator.iadd, operator.isub, operator.imul, operator.itruediv,
                      operator.ifloordiv, operator.imod, operator.ipow, operator.iand, operator.ior}


class _Replay:
    """Replays an fx graph through the mapping rules into an IR Graph."""

    def __init__(self, model: torch.nn.Module, graph: Graph, inputs: Optional[ModelInputs] = None):
        self.model = model
        self.graph = graph
        self.inputs = inputs
        self.env: dict[fx.Node, Any] = {}
        self._observed: Optional[dict] = None  # opaque layers' calls, observed on first need
        self._observed_calls: Optional[dict] = None  # opaque functions' and methods' calls
        self.fx_graph: Optional[fx.Graph] = None

    def run(self, fx_graph: fx.Graph, placeholders: Sequence[Ref]) -> None:
        self.fx_graph = fx_graph
        values = self.placeholder_values(fx_graph, {ref.name: ref for ref in placeholders})
        for fx_node in fx_graph.nodes:
            if fx_node.op == "placeholder":
                self.env[fx_node] = values.pop(0)
            elif fx_node.op == "output":
                self._set_outputs(fx_node)
            else:
                self.env[fx_node] = getattr(self, f"_{fx_node.op}")(fx_node)
                self._follow_mutation(fx_node)

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

    def _follow_mutation(self, fx_node: fx.Node) -> None:
        """After ``x.relu_()`` / ``x += y`` / ``nn.ReLU(inplace=True)(x)``, later reads of ``x``
        must see the new value. fx records the call but keeps ``x`` pointing at the old node,
        so rebind it here. (A mutated *view* of another tensor is not tracked; parity catches it.)"""
        target = fx_node.args[0] if fx_node.args else None
        if isinstance(target, fx.Node) and isinstance(self.env[fx_node], Ref) and self._mutates(fx_node):
            self.env[target] = self.env[fx_node]

    def _mutates(self, fx_node: fx.Node) -> bool:
        if fx_node.kwargs.get("inplace") is True:
            return True
        if fx_node.op == "call_method":
            return fx_node.target.endswith("_") and not fx_node.target.startswith("__")
        if fx_node.op == "call_function":
            return fx_node.target in _INPLACE_OPERATORS or getattr(fx_node.target, "__name__", "").endswith("_")
        if fx_node.op == "call_module":
            return getattr(self.model.get_submodule(fx_node.target), "inplace", False) is True
        return False

    def _resolve(self, fx_node: fx.Node) -> tuple[list, dict]:
        resolve = lambda n: self.env[n]  # noqa: E731
        args = fx.node.map_arg(fx_node.args, resolve)
        kwargs = fx.node.map_arg(fx_node.kwargs, resolve)
        return list(args), dict(kwargs)

    def _builder(self, fx_node: fx.Node, name: str, module: Optional[str] = None,
                 module_class: Optional[str] = None, what: str = "") -> Builder:
        if module is None:  # a function or method: the user's module it ran in (a table row)
            module, module_class = enclosing_module(self.model, fx_node)
        return Builder(self.graph, name, module, module_class, source_of(fx_node), what)

    def _get_attr(self, fx_node: fx.Node) -> Ref:
        tensor = _fetch_attr(self.model, fx_node.target)
        builder = self._builder(fx_node, fx_node.target, module=fx_node.target, what=fx_node.target)
        if not isinstance(tensor, torch.Tensor):
            raise UnsupportedError(f"{builder.where}: attribute {fx_node.target} is not a tensor")
        return builder.constant(tensor, name=fx_node.target)

    def _call_module(self, fx_node: fx.Node) -> Any:
        module = self.model.get_submodule(fx_node.target)
        cls = type(module).__name__
        builder = self._builder(fx_node, fx_node.target, fx_node.target, cls, what=fx_node.target)
        rule = module_rule_for(module)
        if rule is None and not (opaque_layers_allowed() and self.inputs is not None):
            raise unsupported_layer(builder.where, module)
        args, kwargs = self._resolve(fx_node)
        if rule is None:
            return self._opaque(builder, module, fx_node.target, args, kwargs)
        return rule(builder, module, *args, **kwargs)

    def _opaque(self, builder: Builder, module: torch.nn.Module, path: str, args: list, kwargs: dict) -> Any:
        """A layer without a rule, in graph-only mode: an opaque node with the shapes one real
        forward pass gave (every such layer is observed in that one pass)."""
        from graphnn.frontend.opaque import emit_opaque, observe

        if self._observed is None:
            leaf = _Tracer().is_leaf_module
            self._observed = observe(self.model, self.inputs,
                                     lambda p, m: module_rule_for(m) is None and leaf(m, p))
        calls = self._observed.get(path)
        if not calls:  # fx called it, the real forward did not: nothing honest to show
            raise unsupported_layer(builder.where, module)
        return emit_opaque(builder, layer_label(type(module)), dict(module.named_parameters()), args, kwargs,
                           calls.pop(0))

    def _opaque_call(self, builder: Builder, fx_node: fx.Node, label: str, error: GraphnnError) -> Any:
        """A function or method without a rule, in graph-only mode: an opaque node with the
        shapes a replay of the fx graph gave; ``error`` when there is no replay to read."""
        from graphnn.frontend.opaque import emit_opaque, observe_fx

        if not (opaque_layers_allowed() and self.inputs is not None and self.fx_graph is not None):
            raise error
        if self._observed_calls is None:
            examples = self.placeholder_values(self.fx_graph, {i.name: i.example for i in self.inputs.items})
            self._observed_calls = observe_fx(self.model, self.fx_graph, examples)
        call = self._observed_calls.get(fx_node.name)
        if call is None:
            raise error
        args, kwargs = self._resolve(fx_node)
        return emit_opaque(builder, label, {}, args, kwargs, call)

    def _call_function(self, fx_node: fx.Node) -> Any:
        target = fx_node.target
        args, kwargs = self._resolve(fx_node)
        if getattr(target, "__module__", None) in ("_operator", "operator") and not _holds_tensors(args, kwargs):
            return target(*args, **kwargs)  # arithmetic on facts known now: x.dim() - 2
        label = function_label(target)
        builder = self._builder(fx_node, fx_node.name, what=label)
        rule = function_rule_for(target)
        if rule is None and _is_python_function(target):
            return self._trace_through(fx_node, builder, label, args, kwargs)
        if rule is None:
            return self._opaque_call(builder, fx_node, label, UnsupportedError(
                f"{builder.where}: function {label} is not supported by graphnn yet"))
        return rule(builder, *args, **kwargs)

    def _trace_through(self, fx_node: fx.Node, builder: Builder, label: str, args: list, kwargs: dict) -> Any:
        """A Python function fx kept whole (``torch.fx.wrap``): traced through here (``inline``);
        where that fails, a TraceError sends ``auto`` on to torch.export."""
        from graphnn.frontend.inline import trace_through

        try:
            return trace_through(self, fx_node, args, kwargs)
        except Exception as exc:  # anything its body does that fx or a rule cannot follow
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TraceError(f"torch.fx kept the Python function {label} opaque (torch.fx.wrap) at "
                             f"{builder.where}, and tracing through it stopped ({detail}); torch.export "
                             f"traces through it") from None

    def _call_method(self, fx_node: fx.Node) -> Any:
        builder = self._builder(fx_node, fx_node.name, what=f"Tensor.{fx_node.target}")
        rule = method_rule_for(fx_node.target)
        if rule is None:
            return self._opaque_call(builder, fx_node, f"Tensor.{fx_node.target}", UnsupportedError(
                f"{builder.where}: tensor method .{fx_node.target}() is not supported by graphnn yet"))
        args, kwargs = self._resolve(fx_node)
        return rule(builder, *args, **kwargs)

    def _set_outputs(self, fx_node: fx.Node) -> None:
        set_graph_outputs(self.graph, fx.node.map_arg(fx_node.args[0], lambda n: self.env[n]))


def enclosing_module(model: torch.nn.Module, fx_node: fx.Node) -> tuple[Optional[str], Optional[str]]:
    """The innermost submodule (path, class name) whose forward made ``fx_node``, from the
    ``nn_module_stack`` both fx and torch.export record; (None, None) for the root's own code.
    Consecutive nodes of one module call are one row of ``graphnn graph``."""
    for path, _ in reversed(list((fx_node.meta.get("nn_module_stack") or {}).values())):
        if not path:
            break
        try:
            return path, type(model.get_submodule(path)).__name__
        except AttributeError:
            break
    return None, None


def _is_python_function(target: Any) -> bool:
    """A function written in Python outside torch (a model's helper that fx.wrap keeps as one
    call, as torchvision's Swin does): fx cannot see inside it, torch.export can."""
    code = getattr(target, "__code__", None)
    return code is not None and not code.co_filename.startswith(_TORCH_DIR)


def _fetch_attr(model: torch.nn.Module, target: str) -> Any:
    obj: Any = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def trace_fx(model: torch.nn.Module, inputs: ModelInputs) -> Graph:
    """Trace ``model`` (in eval mode; the caller's modes are restored) into an IR Graph."""
    model = unwrap_parallel(model)
    graph = Graph(type(model).__name__)
    with eval_mode(model):
        placeholders = add_graph_inputs(graph, inputs)
        if module_rule_for(model):  # a bare layer: fx would trace into it, so call its rule
            _trace_bare_layer(model, graph, placeholders)
        else:
            fx_graph = symbolic_trace(model, inputs.names)
            _Replay(model, graph, inputs).run(fx_graph, placeholders)
    return graph


def _trace_bare_layer(layer: torch.nn.Module, graph: Graph, inputs: Sequence[Ref]) -> None:
    """``model = nn.Linear(10, 5)``: one layer, named after its class (``linear``)."""
    name = type(layer).__name__.lower()
    builder = Builder(graph, name, name, type(layer).__name__, None, name)
    set_graph_outputs(graph, module_rule_for(layer)(builder, layer, *inputs))


def add_graph_inputs(graph: Graph, inputs: ModelInputs) -> list[Ref]:
    """The model inputs as IR inputs, dynamic dims as symbols (shared by every frontend)."""
    for item in inputs.items:
        graph.add_input(item.name, item.shape(), dtype_name(item.example.dtype))
    graph.symbols.update(inputs.symbols)
    return [Ref(item.name) for item in inputs.items]


def set_graph_outputs(graph: Graph, result: Any) -> None:
    """The model's (nested) result as graph outputs, named after dict keys and fields."""
    names, values = [], []
    for name, out in named_outputs(result):
        if not isinstance(out, Ref):
            raise UnsupportedError(f"the model returns a non-tensor output {out!r}")
        names.append(name)
        values.append(out.name)
    graph.outputs = values
    graph.output_names = names
