"""The torch.export frontend: ``torch.export.export(strict=False)``, then the program's
ATen ops replayed through the same rules as fx's calls, into the same IR.

torch.export traces what fx cannot (iterating a ``chunk``, slicing by a traced size,
shape unpacking, branches on dtypes or config values) at the price of speed (0.1-3 s)
and of a flat graph of ATen ops. This module puts the layers back: parameters and
buffers become constants named after them (``fc.weight``), so ``aten.linear`` on them
is the same ``linear`` op with params as fx's nn.Linear; each node is attributed to its
innermost torch.nn layer (``nn_module_stack``) and to the user's line (``stack_trace``).
The ATen -> rule table lives in ``aten.py``. No ``run_decompositions()``: the default
(training) IR keeps ops that match torch functions one to one, which is the point.

A program saved with ``torch.export.save`` (``graphnn.programs.SavedProgram``) is replayed
as it is, not exported again: its tensors come from the program, its layers from the class
names it recorded, and any of its symbolic dims not asked to stay dynamic (``--static``) are
fixed to the example's size.

Dynamic dims are exported as ``Dim.DYNAMIC`` and torch's symbols (``s77``) are mapped back
to the user's names, so derived sizes stay symbolic (``2*seq``). Slice assignment
(``z[:, :4] = y``: in-place ops on views in the training IR) is rewritten into
``slice_scatter`` on the viewed tensor, whose later reads then see the new value.
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, Optional, Sequence

import torch
import torch.fx as fx
import torch.utils._pytree as pytree

from graphnn.errors import GraphnnError, ShapeError, TraceError, UnsupportedError
import graphnn.frontend.aten as aten
import graphnn.frontend.decompose as decompose
from graphnn.frontend.replay import Replay, Rule, add_graph_inputs, set_graph_outputs
from graphnn.frontend.rules import Builder, Ref
from graphnn.hf.cache import cache_dynamic_shapes, cache_keyword, grouped_cache, register_cache_pytrees
from graphnn.frontend.source import data_dependent_error, trace_failure, user_line_in, user_line_of
from graphnn.frontend.pinned import pinning_place
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.ops.elementwise import dim_expression
from graphnn.programs import saved_program


_WRAP_WITH_AUTOCAST = getattr(torch.ops.higher_order, "wrap_with_autocast", None)


def trace_export(model: torch.nn.Module, inputs: ModelInputs) -> Graph:
    """Export ``model`` (in eval mode; the caller's modes are restored) into an IR Graph;
    a saved program is replayed as it is."""
    saved = saved_program(model)
    if saved is None:
        return ExportReplay.trace(model, inputs)
    graph = Graph(type(model).__name__)
    SavedReplay(model, graph, inputs, saved).run(add_graph_inputs(graph, inputs))
    return graph


# ------------------------------------------------------------------ torch.export
def export_program(model: torch.nn.Module, inputs: ModelInputs) -> torch.export.ExportedProgram:
    """torch.export's program; its failures become TraceError with the user's line."""
    register_cache_pytrees()  # a causal LM returns its KV cache by default
    try:
        return _export(model, inputs)
    except GraphnnError:
        raise
    except Exception as exc:  # torch.export raises many kinds; all mean "this forward does not export"
        again = lambda: _export(model, inputs)  # noqa: E731  (to find where a dim was pinned)
        raise (_layer_error(model, exc, inputs) or _trace_error(exc, inputs, model, again)) from None


def _export(model: torch.nn.Module, inputs: ModelInputs) -> torch.export.ExportedProgram:
    args = tuple(item.example for item in inputs.items if not item.keyword)
    kwargs = grouped_cache({item.name: item.example for item in inputs.items if item.keyword}, cache_keyword(model))
    # no_grad: a @torch.no_grad() method (Llama's rotary embedding) then needs no grad-mode region
    with _size_one_is_not_special(), torch.no_grad():
        return torch.export.export(model, args, kwargs or None, dynamic_shapes=_dynamic_shapes(inputs, kwargs),
                                   strict=False)


def _dynamic_shapes(inputs: ModelInputs, kwargs: dict) -> Any:
    """``Dim.DYNAMIC`` on each dynamic dim (a named ``Dim`` would turn torch's range guards,
    such as ``seq <= 32`` for a 32-row buffer, into errors); names are mapped back later.
    A KV cache's flat inputs give the specs of its tensors, nested as the cache is."""
    specs = [{index: torch.export.Dim.DYNAMIC for index, _ in item.dims} or None for item in inputs.items]
    if any(item.keyword for item in inputs.items):
        by_name = {item.name: spec for item, spec in zip(inputs.items, specs)}
        flat = [spec for item, spec in zip(inputs.items, specs) if item.name not in kwargs and item.keyword]
        return {name: by_name[name] if name in by_name else cache_dynamic_shapes(value, flat.__getitem__)
                for name, value in kwargs.items()}
    return tuple(specs)


def _size_one_is_not_special():
    """An example batch of 1 would otherwise be specialized (torch's 0/1 rule) and the
    export refused; graphnn's parity runs other batch sizes anyway."""
    try:
        from torch.fx.experimental import _config
        return _config.patch(backed_size_oblivious=True)
    except (ImportError, AttributeError):  # older torch: no such switch
        return contextlib.nullcontext()


def _layer_error(model: torch.nn.Module, exc: BaseException, inputs: ModelInputs) -> Optional[ShapeError]:
    """torch.export runs the model on fake tensors, so a layer that does not fit its input
    (a conv expecting 16 channels) fails inside torch: name that layer and the user's line,
    as graphnn's own shape errors do."""
    if not isinstance(exc, (RuntimeError, ValueError, IndexError)) or type(exc).__module__.startswith("torch._") \
            or _data_dependent(exc):
        return None
    paths = {id(module): path for path, module in model.named_modules()}
    layer, tb = None, exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self") if tb.tb_frame.f_code.co_name == "forward" else None
        if isinstance(owner, torch.nn.Module) and id(owner) in paths and _is_torch_layer(owner):
            layer = paths[id(owner)] or type(owner).__name__.lower()
        tb = tb.tb_next
    if layer is None:
        return None
    feeds = ", ".join("x".join(map(str, item.example.shape)) or "scalar" for item in inputs.items)
    message = str(exc).strip().splitlines()[0]
    line = user_line_of(exc).split(": ")[0]  # model.py:14, as shape errors name lines
    return ShapeError(f"{layer} ({line}) fails in torch: {message} for input {feeds}")


_DATA_DEPENDENT = ("data-dependent", "data dependent", "GuardOnDataDependentSymNode")


def _dims_named(inputs: ModelInputs) -> str:
    """``'x' dim 0 ('batch')``, for every dynamic dim (torch's message names no input)."""
    return ", ".join(f"{item.name!r} dim {index} ({symbol!r})" for item in inputs.items for index, symbol in item.dims)


def _data_dependent(exc: BaseException) -> bool:
    return any(marker in f"{type(exc).__name__} {exc}" for marker in _DATA_DEPENDENT)


_SPECIALIZED = re.compile(r"L\['(\w+)'\]\.size\(\)\[(\d+)\] as dynamic but your code specialized it "
                         r"to be a constant \((\d+)\)")
_SPECIALIZED_DIM = re.compile(r"You marked (\w+) as dynamic but your code specialized it to be a constant \((\d+)\)")


def _trace_error(exc: BaseException, inputs: ModelInputs, model=None, again=None) -> TraceError:
    fixed, pinned = _SPECIALIZED.search(str(exc)), _SPECIALIZED_DIM.search(str(exc))
    if fixed or pinned:
        if fixed:
            name, index, size = fixed[1], int(fixed[2]), fixed[3]
            symbol = dict(next((item.dims for item in inputs.items if item.name == name), ())).get(index, "?")
            which = f"dim {index} ({symbol!r}) of input {name!r}"
        else:
            size, which = pinned[2], f"a dim of {_dims_named(inputs)}"
        where = pinning_place(model, again) if again is not None else None
        if where is None:
            return TraceError(
                f"torch.export cannot keep {which} dynamic: the model (or a layer it calls) fixes it to {size}; "
                f"export with that dim static (--static or dynamic_dims), or with --frontend fx")
        return TraceError(
            f"torch.export cannot keep {which} dynamic: {where} fixes it to {size}; read the size from the "
            f"tensor there (x.size(0), -1), or export with that dim static (--static or dynamic_dims)")
    if _data_dependent(exc):
        return data_dependent_error(user_line_of(exc))
    return trace_failure(exc, "torch.export")


# ------------------------------------------------------------------ node metadata
def layer_of(model: torch.nn.Module, node: fx.Node) -> tuple[Optional[str], Optional[torch.nn.Module]]:
    """The innermost torch.nn layer (not a container) the node ran in, as fx would have
    kept it: ``("layer1.0.conv1", Conv2d)``; (None, None) for code in the user's modules."""
    stack = node.meta.get("nn_module_stack") or {}
    for path, _ in reversed(list(stack.values())):
        try:
            module = model.get_submodule(path) if path else model
        except AttributeError:
            return None, None
        if _is_torch_layer(module):
            return path or type(module).__name__.lower(), module
        return None, None  # the innermost module is the user's own: fx traces into those
    return None, None


def _is_torch_layer(module: torch.nn.Module) -> bool:
    return type(module).__module__.startswith("torch.nn") and not isinstance(
        module, (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict))


# ------------------------------------------------------------------ the replay
_PLACE = ("nn_module_stack", "stack_trace")  # where a node ran: a decomposition's nodes ran there too


class ExportReplay(Replay):
    """Replays an exported program's ATen ops by the rules of the torch functions they match
    (``aten.py``), attributed to the torch.nn layer each ran in; a write into a view is
    scattered back into its base."""

    producer = "torch.export"

    def __init__(self, model: torch.nn.Module, graph: Graph, inputs: ModelInputs,
                 program: Optional[torch.export.ExportedProgram] = None):
        super().__init__(model, graph, inputs)
        self.program = program
        self.views: dict[fx.Node, tuple] = {}  # a view's node -> (its base's node, the view op, its args, kwargs)
        self.symbols: dict[Any, str] = {}  # torch's sympy symbol (s77) -> the user's name (seq)
        self.fixed: dict[Any, int] = {}  # torch's symbols of a saved program's dims made static
        self.lifted: dict[str, str] = {}  # a parameter's or buffer's placeholder -> its name in the model
        self.user_inputs: Any = iter(())  # (TraceInput, Ref) of each user placeholder, in order
        self.origins: dict[fx.Node, fx.Node] = {}  # a decomposition's node -> the program's node it computes
        self.decomposed_from: dict[fx.Node, fx.Node] = {}  # a decomposition's node -> the node decomposed

    def replay_model(self, placeholders: Sequence[Ref]) -> None:
        self.program = export_program(self.model, self.inputs)
        self.run(placeholders)

    def run(self, placeholders: Sequence[Ref]) -> None:
        signature = self.program.graph_signature
        self.lifted = {**signature.inputs_to_parameters, **signature.inputs_to_buffers,
                       **signature.inputs_to_lifted_tensor_constants}
        self.user_inputs = iter(zip(self.inputs.items, placeholders))
        self.run_nodes(self.program.graph.nodes)

    # -------------------------------------------------------------- inputs
    def placeholder(self, node: fx.Node) -> Any:
        if node.name in self.lifted:
            return self.module_tensor(node, self.lifted[node.name]) if node.users else None
        item, ref = next(self.user_inputs)
        self._learn_symbols(node, item)
        return ref

    def module_tensor(self, node: fx.Node, target: str) -> Ref:
        """A parameter or buffer as a constant named after it; the model's own tensor, so
        tied weights stay one tensor (one initializer)."""
        tensor = _model_tensor(self.model, target)
        if tensor is None:
            tensor = self.program.constants.get(target)  # a tensor made in forward (torch.tensor([...]))
        if tensor is None:
            raise UnsupportedError(f"torch.export lifted {target}, which is not a tensor of the model")
        return Builder(self.graph, target, target, None, None, target).constant(tensor.detach(), name=target)

    def _learn_symbols(self, node: fx.Node, item) -> None:
        """torch's symbol for each dynamic dim of this input -> the user's name for it."""
        shape = node.meta["val"].shape
        import sympy
        dynamic = dict(item.dims)
        for index, size in enumerate(shape):  # a saved program's symbolic dims asked to be static
            if isinstance(size, torch.SymInt) and index not in dynamic and size.node.expr.is_symbol:
                self.fixed[size.node.expr] = sympy.Integer(int(item.example.shape[index]))
        for index, symbol in item.dims:
            size = shape[index]
            if not isinstance(size, torch.SymInt):
                raise TraceError(f"the model fixes dynamic dim {index} ({symbol!r}) of input {item.name!r} "
                                 f"to {size}; export with that dim static")
            self.symbols[size.node.expr] = symbol

    def dim(self, size: Any) -> Any:
        """A torch size (int or SymInt) as an IR dim: an int, ``seq`` or ``2*seq``."""
        if not isinstance(size, torch.SymInt):
            return size
        expr = _fitting(size.node.expr).xreplace(self.fixed)
        if expr.is_number:
            return int(expr)
        return dim_expression(expr.xreplace({s: _named_symbol(n) for s, n in self.symbols.items()}))

    # -------------------------------------------------------------- higher-order ops
    def get_attr(self, node: fx.Node) -> Any:
        """A higher-order op's body (``with torch.autocast(..., enabled=False)``: timm's
        EfficientViT), kept as its GraphModule for the op to replay; nothing else is converted."""
        body = getattr(self.program.graph_module, node.target, None) if self.program is not None else None
        if not isinstance(body, fx.GraphModule):
            raise UnsupportedError(f"{self.source_of(node) or 'the model'}: torch.export produced a get_attr "
                                   f"node ({node.target}), which graphnn does not convert yet")
        return body

    def call_function(self, node: fx.Node) -> Any:
        if node.target is _WRAP_WITH_AUTOCAST:
            return self._autocast_region(node)
        return super().call_function(node)

    def _autocast_region(self, node: fx.Node) -> Any:
        """``torch.autocast(enabled=False)``: its body computes in the dtypes it was given, so its
        nodes are replayed in place; an enabled autocast (casts graphnn would have to insert) is refused."""
        _device, _dtype, enabled, _cache, body, *inputs = node.args
        if enabled:
            raise UnsupportedError(f"{self.source_of(node) or 'the model'}: torch.autocast(enabled=True) inside "
                                   f"the model is not supported by graphnn yet")
        feeds = iter(inputs)
        for sub in self.env[body].graph.nodes:
            if sub.op == "placeholder":
                self.env[sub] = self.env[next(feeds)]
            elif sub.op == "output":
                return fx.node.map_arg(sub.args[0], self.env.__getitem__)
            else:
                self.env[sub] = self.replayed(sub)
        return None

    # -------------------------------------------------------------- calls
    def function_rule(self, target: Any) -> Optional[Rule]:
        return aten.rule_for(target)

    def label(self, target: Any) -> str:
        return aten.label(target)

    def source_of(self, node: fx.Node) -> Optional[str]:
        return user_line_in(node.meta.get("stack_trace") or "")

    def layer(self, node: fx.Node) -> tuple[Optional[str], Optional[str]]:
        """(path, class name) of the torch.nn layer the node ran in, or (None, None)."""
        path, layer = layer_of(self.model, node)
        if layer is None:
            return None, None
        return path, type(layer).__name__

    def builder(self, node: fx.Node) -> Builder:
        """Named and placed after the program's node; a decomposition's nodes after the op they
        compute, so ``graph`` shows them as one row under its layer and line."""
        origin = self.origins.get(node, node)
        path, layer_class = self.layer(origin)
        if layer_class is None:  # the user's (or a library's) own module: a row of the table, not a layer
            return self.node_builder(origin, origin.name, self.label(origin.target))
        return self.node_builder(origin, path, path, path, layer_class)

    # -------------------------------------------------------------- ops without a rule
    def without_rule(self, node: fx.Node, builder: Builder, args: list, kwargs: dict) -> Any:
        """An ATen op without a rule is computed by torch's decomposition of it (only that op);
        refused, naming the op the program holds, when the decomposition reaches no rules."""
        origin = self.origins.get(node, node)
        depth = sum(1 for _ in self._chain(node))
        module = decompose.traced(node) if depth <= decompose.MAX_DEPTH else None
        if module is None:
            raise self.refusal(origin, node, builder)
        return self.applied(node, builder, self._replay_decomposition(node, module))

    def _chain(self, node: fx.Node):
        """The nodes ``node`` was decomposed from, innermost first."""
        while node in self.decomposed_from:
            node = self.decomposed_from[node]
            yield node

    def refusal(self, origin: fx.Node, node: fx.Node, builder: Builder) -> UnsupportedError:
        if origin is node:
            return self.missing_rule(builder.where, self.label(node.target))
        return self.missing_rule(builder.where, self.label(origin.target),
                                 f" (torch decomposes it into {self.label(node.target)}, which has no rule)")

    def _replay_decomposition(self, node: fx.Node, module: fx.GraphModule) -> Any:
        """The decomposition's nodes replayed in place of ``node``: its placeholders are
        ``node``'s inputs, its output is what ``node`` computed."""
        inputs = iter(node.all_input_nodes)
        origin = self.origins.get(node, node)
        for sub in module.graph.nodes:
            if sub.op == "placeholder":
                self.env[sub] = self.env[next(inputs)]
            elif sub.op == "output":
                return fx.node.map_arg(sub.args[0], self.env.__getitem__)
            elif sub.op == "get_attr":
                self.env[sub] = self.builder(origin).constant(getattr(module, sub.target).detach())
            else:
                self.origins[sub] = origin
                sub.meta.update({key: origin.meta[key] for key in _PLACE if key in origin.meta})
                self.decomposed_from[sub] = node
                self.env[sub] = self.replayed(sub)
        return None

    def applied(self, node: fx.Node, builder: Builder, result: Any) -> Any:
        self._note_known(node, result)
        if aten.is_view(node.target) and _viewed(node):
            self.views[node] = (node.args[0], node.target, node.args[1:], dict(node.kwargs))
        if aten.mutates(node.target):
            self._write_back(builder, node.args[0], result)
        return result

    def _note_known(self, node: fx.Node, result: Any) -> None:
        """A size torch computed (``x.size(1) * 2``) keeps torch's value, mapped to the
        user's names, so a reshape by it gets the dim ``2*seq``."""
        value = node.meta.get("val")
        if isinstance(result, Ref) and isinstance(value, (int, torch.SymInt)) and not isinstance(value, bool):
            self.graph.values[result.name].known = self.dim(value)

    def _write_back(self, builder: Builder, target: fx.Node, value: Ref) -> None:
        """After an in-place op on ``target``, later reads of it (and of the tensors it is
        a view of: ``z`` after ``z[:, :4] = 0``) see the new value; each view level is
        scattered back into its base (``slice_scatter``)."""
        while target in self.views:
            self.env[target] = value
            base, view_op, view_args, view_kwargs = self.views[target]
            args = fx.node.map_arg(view_args, lambda n: self.env[n])
            kwargs = fx.node.map_arg(view_kwargs, lambda n: self.env[n])
            value = aten.scatter_back(builder, view_op, self.env[base], value, *args, **kwargs)
            target = base
        self.env[target] = value

    def output(self, node: fx.Node) -> None:
        """The user outputs (not buffer mutations), in the structure forward returned."""
        kinds = [spec.kind for spec in self.program.graph_signature.output_specs]
        flat = [self.env[n] if isinstance(n, fx.Node) else n
                for n, kind in zip(node.args[0], kinds) if kind == torch.export.graph_signature.OutputKind.USER_OUTPUT]
        set_graph_outputs(self.graph, pytree.tree_unflatten(flat, self.program.call_spec.out_spec))


def _viewed(node: fx.Node) -> bool:
    """Whether a view op's result shares its input's memory: a reshape copies a tensor it cannot
    view (its strides do not allow it), and writing into that copy leaves the input as it was.
    Asked of torch's fake input (the fake result does not record being a view)."""
    if node.target is not torch.ops.aten.reshape.default:
        return True
    value, base = node.meta.get("val"), node.args[0].meta.get("val")
    if not isinstance(value, torch.Tensor) or not isinstance(base, torch.Tensor) or base.is_contiguous():
        return True
    try:
        base.view(value.shape)
    except (RuntimeError, ValueError):
        return False
    return True


class SavedReplay(ExportReplay):
    """A saved program has no model object behind it: tensors come from the program and
    layers from the class names its ``nn_module_stack`` recorded (``torch.nn.modules.conv.Conv2d``)."""

    def module_tensor(self, node: fx.Node, target: str) -> Ref:
        tensor = self.program.state_dict.get(target)
        if tensor is None:
            tensor = self.program.constants.get(target)
        if tensor is None:
            raise UnsupportedError(f"the saved program lifts {target}, but holds no such tensor")
        return Builder(self.graph, target, target, None, None, target).constant(tensor.detach(), name=target)

    def refusal(self, origin: fx.Node, node: fx.Node, builder: Builder) -> UnsupportedError:
        if origin is node and torch.Tag.core in getattr(node.target, "tags", ()):
            return self.unsupported(builder.where, self.label(node.target),
                                    "; it is a core ATen op, which programs hold after run_decompositions(): "
                                    "save the program torch.export.export returned, before decomposing it")
        return super().refusal(origin, node, builder)

    def layer(self, node: fx.Node) -> tuple[Optional[str], Optional[str]]:
        path, qualified = _recorded(node)
        if path is None or not _is_torch_layer_name(qualified):
            return None, None
        return path, qualified.rsplit(".", 1)[-1]

    def enclosing(self, node: fx.Node) -> tuple[Optional[str], Optional[str]]:
        path, qualified = _recorded(node)
        return (path, qualified.rsplit(".", 1)[-1]) if path else (None, None)


def _recorded(node: fx.Node) -> tuple[Optional[str], str]:
    """The innermost (module path, qualified class name) a node's ``nn_module_stack`` records."""
    stack = list((node.meta.get("nn_module_stack") or {}).values())
    if not stack:
        return None, ""
    path, cls = stack[-1]
    name = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
    return path or None, name


_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def _is_torch_layer_name(qualified: str) -> bool:
    module, _, name = qualified.rpartition(".")
    return module.startswith("torch.nn") and name not in _CONTAINERS


def _fitting(expr):
    """torch's clamps of a traced size against a static one, ``Min(4, s77)`` for
    ``self.cache[:x.size(0)]`` (and ``Max(0, s77 - 1)``), read as the traced size: the
    dynamic size fits the table, as the slice shape rule assumes and torch's size-oblivious
    tracing does; the model is correct only for such sizes anyway."""
    def unclamped(clamp):  # sympy's Min / Max, or torch's own classes of those names
        symbolic = [a for a in clamp.args if not a.is_number]
        numbers = [a for a in clamp.args if a.is_number]
        if len(symbolic) != 1 or (type(clamp).__name__ == "Max" and any(n > 1 for n in numbers)):
            return clamp
        return symbolic[0]
    return expr.replace(lambda e: type(e).__name__ in ("Min", "Max"), unclamped)


def _model_tensor(model: torch.nn.Module, target: str) -> Optional[torch.Tensor]:
    for get in (model.get_parameter, model.get_buffer):
        try:
            return get(target)
        except AttributeError:
            continue
    return None


def _named_symbol(name: str):
    import sympy
    return sympy.Symbol(name, integer=True, positive=True)
