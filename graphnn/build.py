"""One build: trace, the passes, lower and check, once. Export, parity and localization all
read what it made (an ``Export``) instead of tracing or lowering the model again."""
from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import onnx
import torch

from graphnn import timings
from graphnn.backend.onnx.assembler import lower_unchecked
from graphnn.backend.onnx.targets import DEFAULT_TARGET, target as find_target
from graphnn.frontend import trace_model
from graphnn.hf.metadata import add_generation_ids
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.onnxfile.checker import check
from graphnn.onnxfile.serialize import Weights
from graphnn.passes import run_passes

Log = Optional[Callable[[str], None]]


@dataclass
class Export:
    """What one build made. ``traced`` is the IR as traced (its layer outputs are the torch
    layers' own: localization lowers it), ``graph`` the IR after the passes, which
    ``onnx_model`` holds; the two share their parameter tensors. ``onnx_model`` is checked,
    and its large initializers' bytes are in ``weights`` (views of the torch tensors)."""

    inputs: ModelInputs
    traced: Graph
    graph: Graph
    onnx_model: onnx.ModelProto
    weights: Weights
    opset: int
    frontend: str
    target: str = DEFAULT_TARGET


def build(model: torch.nn.Module, inputs: ModelInputs, opset: int, frontend: str = "auto",
          optimize_graph: bool = True, log: Log = None, target: str = DEFAULT_TARGET) -> Export:
    """Trace ``model`` on ``inputs``, run the passes, lower at ``opset`` for ``target``
    (``backend.onnx.targets``) and check; the opset is taken as given (``backend.onnx.check_opset``
    judges a user's)."""
    runs_on = find_target(target)
    weights: dict = {}
    with _gc_paused():
        traced = _trace(model, inputs, frontend, log)
        graph = traced.copy() if optimize_graph else traced  # a copy shares the tensors
        run_passes(graph, optimize=optimize_graph, log=log)
        onnx_model = _lower(graph, opset, weights, log, runs_on)
    add_generation_ids(onnx_model, model)  # eos / pad ids, so a lone file can generate
    return Export(inputs, traced, graph, onnx_model, weights, opset, graph.frontend, target)


def _trace(model: torch.nn.Module, inputs: ModelInputs, frontend: str, log: Log) -> Graph:
    start = time.perf_counter()
    with timings.stage("trace"):
        graph = trace_model(model, inputs, frontend, log)
    _say(log, f"traced {type(model).__name__} with the {graph.frontend} frontend: {len(graph)} nodes "
              f"in {time.perf_counter() - start:.2f}s")
    return graph


def _lower(graph: Graph, opset: int, weights: dict, log: Log, runs_on) -> onnx.ModelProto:
    start = time.perf_counter()
    with timings.stage("lower"):
        onnx_model = lower_unchecked(graph, opset, weights, runs_on)
    with timings.stage("check"):
        check(onnx_model)
    _say(log, f"lowered to ONNX opset {opset}: {len(onnx_model.graph.node)} nodes, "
              f"{len(onnx_model.graph.initializer)} initializers in {time.perf_counter() - start:.2f}s")
    for note in filter(None, onnx_model.doc_string.split("\n")):
        _say(log, note)
    return onnx_model


def _say(log: Log, message: str) -> None:
    if log:
        log(message)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the graph and the ModelProto are built: that work
    allocates millions of small objects and frees few, and every collection scans the ones
    alive (torch.fx's graph, the IR, the model), so collections cost more the deeper the
    model: on a 2000-layer MLP they were half of tracing (1.3 s -> 0.75 s without). The
    collector resumes afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
