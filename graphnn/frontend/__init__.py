"""Frontends turn a torch model into the IR: torch.fx (``fx_tracer``, fast, layer-level)
and torch.export (``export_tracer``, for models fx cannot trace). Both produce the same IR
from the same ``ModelInputs``; ``trace_model`` picks one.

Mapping rules live in ``frontend/layers`` (one module per op family) and are loaded
here, so adding a family means adding a file.
"""
import importlib
import inspect
import pkgutil
from typing import Callable, Optional

import torch

from graphnn.errors import InputSpecError, MissingRuleError, ShapeError, TraceError, UnsupportedError
from graphnn.hf.cache import bound_name, cache_keyword
import graphnn.frontend.layers as _layers
from graphnn.frontend.fx_tracer import trace_fx
from graphnn.frontend.hooks import refresh_parameters, refuse_for_every_frontend, refuse_for_fx
from graphnn.frontend.replay import unwrap_parallel
from graphnn.frontend.rules import module_rule_for
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.modes import eval_mode

for _info in pkgutil.iter_modules(_layers.__path__):
    importlib.import_module(f"{_layers.__name__}.{_info.name}")

FRONTENDS = ("auto", "fx", "export")


def _trace_export(model: torch.nn.Module, inputs: ModelInputs) -> Graph:
    from graphnn.frontend.export_tracer import trace_export  # torch.export is slow to import
    return trace_export(model, inputs)


_TRACERS = {"fx": trace_fx, "export": _trace_export}


def trace_model(model: torch.nn.Module, inputs: ModelInputs, frontend: str = "auto",
                log: Optional[Callable[[str], None]] = None) -> Graph:
    """The IR of ``model`` from the chosen frontend; ``auto`` tries fx first and falls back
    to torch.export when fx cannot trace the model (saying so through ``log``): fx's limits,
    hooks or patched forwards fx would silently skip (``hooks``), and a call without a rule
    (torch.export decomposes ATen ops that have none; when it cannot trace, fx's refusal stands)."""
    if frontend not in FRONTENDS:
        raise ValueError(f"frontend must be one of {', '.join(FRONTENDS)}, not {frontend!r}")
    frontend = _only_frontend(model, frontend)
    if log and inputs.note:
        log(inputs.note)
    refuse_empty(inputs)
    refuse_unbindable(model, inputs)
    materialize_lazy(model, inputs)
    refuse_for_every_frontend(model, module_rule_for(unwrap_parallel(model)) is not None)
    refresh_parameters(model)
    traced = _at_least_two(inputs, log)
    try:
        graph = _chosen(model, traced, frontend, log)
    except ShapeError as exc:  # name the user's example, not the one traced
        raise ShapeError(str(exc).replace(f"for input {_shapes(traced)}", f"for input {_shapes(inputs)}")) from None
    graph.symbols.update(inputs.symbols)  # the user's example sizes, for messages and views
    return graph


def _shapes(inputs: ModelInputs) -> str:
    return ", ".join("x".join(map(str, item.example.shape)) or "scalar" for item in inputs.items)


def _at_least_two(inputs: ModelInputs, log: Optional[Callable[[str], None]]) -> ModelInputs:
    """The inputs to trace with: a dynamic dim of size 1 at 2 (parity checks the user's size)."""
    traced = inputs.without_size_one()
    if log and traced is not inputs:
        ones = ", ".join(symbol for symbol, size in inputs.symbols.items() if size == 1)
        log(f"tracing with {ones} 2, not the example's 1 (a trace at 1 would fix it); parity checks 1 too")
    return traced


def _chosen(model: torch.nn.Module, inputs: ModelInputs, frontend: str,
            log: Optional[Callable[[str], None]]) -> Graph:
    if frontend != "auto":
        return _traced(frontend, model, inputs, explicit=True)
    try:
        return _traced("fx", model, inputs, explicit=False)
    except TraceError as exc:
        if log:
            log(f"torch.fx cannot trace {type(model).__name__} ({exc}); using the torch.export frontend")
        return _traced("export", model, inputs, explicit=False)
    except MissingRuleError as missing:
        if log:
            log(f"{missing}; using the torch.export frontend, which decomposes ops without a rule")
        try:
            return _traced("export", model, inputs, explicit=False)
        except TraceError:
            raise missing from None
        except MissingRuleError as still:  # fx's words name the layer or function the user wrote
            raise MissingRuleError(f"{missing}; under torch.export: {still}") from None


def _only_frontend(model: torch.nn.Module, frontend: str) -> str:
    """A model only one frontend reads (a saved torch.export program: ``graphnn_frontend``)."""
    only = getattr(model, "graphnn_frontend", None)
    if only is None:
        return frontend
    if frontend not in ("auto", only):
        raise UnsupportedError(f"a saved program is read by the {only} frontend only, not --frontend {frontend}")
    return only


def _traced(frontend: str, model: torch.nn.Module, inputs: ModelInputs, explicit: bool) -> Graph:
    if frontend == "fx":
        refuse_for_fx(model, explicit)
    graph = _TRACERS[frontend](model, inputs)
    graph.frontend = frontend
    return graph


def refuse_empty(inputs: ModelInputs) -> None:
    """A zero-size dim (``--input 0x10``) would export, and parity on empty tensors proves
    nothing: refuse it before tracing."""
    for item in inputs.items:
        if 0 in item.example.shape:
            shape = "x".join(map(str, item.example.shape))
            raise InputSpecError(f"input {item.name} has a zero-size dim ({shape}): parity on an empty "
                                 f"tensor checks nothing; give every dim a size of at least 1")


def refuse_unbindable(model: torch.nn.Module, inputs: ModelInputs) -> None:
    """Inputs the forward cannot take (two --input for nn.Linear): said before any frontend
    calls it with them."""
    positional = [item.name for item in inputs.items if not item.keyword]
    keywords = {bound_name(item.name, cache_keyword(unwrap_parallel(model))): None
                for item in inputs.items if item.keyword}
    try:
        signature = inspect.signature(unwrap_parallel(model).forward)
    except (TypeError, ValueError):  # a builtin forward: nothing to check
        return
    try:
        signature.bind(*positional, **keywords)
    except TypeError as exc:
        params = ", ".join(signature.parameters) or "nothing"
        raise InputSpecError(f"{type(unwrap_parallel(model)).__name__}.forward({params}) cannot take "
                             f"{len(inputs.items)} input(s) {', '.join(item.name for item in inputs.items)}: "
                             f"{exc}; pass one --input per forward argument") from None


def materialize_lazy(model: torch.nn.Module, inputs: ModelInputs) -> None:
    """Lazy modules (nn.LazyLinear...) learn their weight shapes from a first call: make it
    with the example inputs, as a user's first forward would."""
    if any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in model.parameters()) or any(
            isinstance(b, torch.nn.parameter.UninitializedBuffer) for b in model.buffers()):
        with eval_mode(model), torch.no_grad():
            inputs.call(model)


__all__ = ["trace_fx", "trace_model", "FRONTENDS", "materialize_lazy"]
