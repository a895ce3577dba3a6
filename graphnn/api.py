"""The Python API: each function is one walk down trace -> passes -> lower -> run.

    graph = graphnn.trace(model, (x,))                   # IR with shapes
    result = graphnn.export(model, (x,), "model.onnx")   # ONNX + parity report
    report = graphnn.check_parity(model, (x,))           # parity only

The CLI calls these and only adds argument parsing and printing.
"""
from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import onnx
import torch

from graphnn import parity, timings, tolerances
from graphnn.backend.onnx import DEFAULT_OPSET, check_opset, to_onnx
from graphnn.backend.onnx.assembler import lower_unchecked
from graphnn.backend.onnx.files import check as check_model
from graphnn.backend.onnx.files import NO_WEIGHTS, Weights, fill_weights, runtime_source, save_onnx
from graphnn.frontend import trace_model
from graphnn.inputs import model_inputs
from graphnn.ir import Graph
from graphnn.localize import first_divergence
from graphnn.passes import run_passes
from graphnn.runtime import create_runtime

Log = Optional[Callable[[str], None]]


def _say(log: Log, message: str) -> None:
    if log:
        log(message)


def trace(model: torch.nn.Module, example_inputs, dynamic_batch: bool = True, *,
          dynamic_dims=None, frontend: str = "auto", log: Log = None) -> Graph:
    """The IR of ``model`` with every value's shape and dtype inferred.

    ``example_inputs``: a tensor or tuple of tensors, as ``model(*example_inputs)`` takes
    them, or a dict of tensors by forward parameter name (``{"input_ids": ids}``).
    ``dynamic_dims``: which dims stay symbolic, one ``{dim: name}`` per input (a list, or a
    dict by input name), e.g. ``[{0: "seq", 1: "batch"}]``; by default dim 0 is ``batch``
    (``dynamic_batch=False`` fixes every dim). ``frontend``: ``fx``, ``export`` (torch.export,
    for models fx cannot trace) or ``auto`` (fx, falling back to export).
    """
    inputs = model_inputs(model, example_inputs, dynamic_dims, dynamic_batch)
    return trace_model(model, inputs, frontend, log)


def optimize(graph: Graph, enabled: bool = True, verify: bool = False, log: Log = None) -> Graph:
    """A copy of ``graph`` after the pass pipeline (only infer_shapes when not enabled)."""
    result = graph.copy()
    run_passes(result, optimize=enabled, verify=verify, log=log)
    return result


def lower(graph: Graph, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """ONNX from the IR with graphnn's own lowerings, checked with full_check."""
    return to_onnx(graph, check_opset(opset))


@dataclass
class ExportResult:
    """What ``export`` made. ``onnx_model`` is the complete ModelProto; the export itself
    never builds it whole: the weights went from the torch tensors straight into the file,
    and are copied into the ModelProto the first time ``onnx_model`` is read (from the
    model's tensors as they are then)."""
    graph: Graph
    report: Optional[parity.ParityReport]
    written: list[str] = field(default_factory=list)  # the model file (+ its .data when > 2 GB)
    model_without_weights: onnx.ModelProto = field(default_factory=onnx.ModelProto, repr=False)
    weights: Weights = field(default_factory=dict, repr=False)  # large initializers' bytes, by name

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok

    @property
    def onnx_model(self) -> onnx.ModelProto:
        if self.weights:
            fill_weights(self.model_without_weights, self.weights)
            self.weights = {}
        return self.model_without_weights

    @property
    def node_count(self) -> int:
        """ONNX nodes in the file, without completing the ModelProto."""
        return len(self.model_without_weights.graph.node)


def export(model: torch.nn.Module, example_inputs, path: Optional[str] = None, *,
           opset: int = DEFAULT_OPSET, dynamic_batch: bool = True, dynamic_dims=None,
           frontend: str = "auto", optimize_graph: bool = True, check: bool = True,
           device: str = "cpu", atol: Optional[float] = None, rtol: Optional[float] = None,
           log: Log = None) -> ExportResult:
    """Trace, optimize, lower, check parity, and write ``path`` if parity holds.

    A file that fails parity is not written (``result.ok`` is False, ``result.report``
    says where); pass ``check=False`` to write without checking. Inputs, ``dynamic_dims``
    and ``frontend`` as in ``trace``.
    """
    inputs = model_inputs(model, example_inputs, dynamic_dims, dynamic_batch)
    opset = check_opset(opset)
    weights: dict = {}
    with _gc_paused():
        graph, onnx_model = _build(model, inputs, opset, frontend, optimize_graph, weights, log)
    result = ExportResult(graph, None, model_without_weights=onnx_model, weights=weights)
    if check:
        with timings.stage("parity"):
            result.report = _parity(model, inputs, onnx_model, weights, device=device, atol=atol, rtol=rtol,
                                    opset=opset, frontend=graph.frontend)
    if path and result.ok:
        with timings.stage("write"):
            result.written = save_onnx(onnx_model, path, weights)
    return result


def _build(model, inputs, opset: int, frontend: str, optimize_graph: bool, weights: dict,
           log: Log) -> tuple[Graph, onnx.ModelProto]:
    """Trace, the passes, lower and check: the IR and the checked ModelProto, whose large
    initializers' bytes are in ``weights``."""
    start = time.perf_counter()
    with timings.stage("trace"):
        graph = trace_model(model, inputs, frontend, log)
    _say(log, f"traced {type(model).__name__} with the {graph.frontend} frontend: {len(graph)} nodes "
              f"in {time.perf_counter() - start:.2f}s")
    run_passes(graph, optimize=optimize_graph, log=log)  # in place: nobody else holds this graph
    start = time.perf_counter()
    with timings.stage("lower"):
        onnx_model = lower_unchecked(graph, opset, weights)
    with timings.stage("check"):
        check_model(onnx_model)
    _say(log, f"lowered to ONNX opset {opset}: {len(onnx_model.graph.node)} nodes, "
              f"{len(onnx_model.graph.initializer)} initializers in {time.perf_counter() - start:.2f}s")
    return graph, onnx_model


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


def check_parity(model: torch.nn.Module, example_inputs, onnx_model: Optional[onnx.ModelProto] = None, *,
                 device: str = "cpu", atol: Optional[float] = None, rtol: Optional[float] = None,
                 opset: int = DEFAULT_OPSET, dynamic_batch: bool = True, dynamic_dims=None,
                 frontend: str = "auto", optimize_graph: bool = True, runs: int = 1, seed: int = 0,
                 sizes: Optional[dict] = None, localize: bool = True) -> parity.ParityReport:
    """Compare onnxruntime with PyTorch; exports first when ``onnx_model`` is None.

    Parity runs at the example's sizes and at two other sizes of every dynamic dim (the
    ONNX inputs' symbolic dims). ``atol`` / ``rtol`` default to what the file computes
    (``graphnn.tolerances``: 1e-4 / 1e-4 for float32; rtol at least 1e-3 on CUDA). On a mismatch, ``report.diagnosis`` names the first layer
    whose output diverges (``localize=False`` skips that: for a file graphnn did not lower, it
    would name graphnn's lowering, not the file's). ``runs``: random draws per size (``seed``);
    ``sizes``: a dynamic dim's sizes to check, ``{"batch": [1, 4, 16]}``.
    """
    inputs = model_inputs(model, example_inputs, dynamic_dims, dynamic_batch)
    if onnx_model is None:
        graph = optimize(trace_model(model, inputs, frontend), optimize_graph)
        frontend = graph.frontend
        onnx_model = to_onnx(graph, check_opset(opset))
    return _parity(model, inputs, onnx_model, NO_WEIGHTS, device=device, atol=atol, rtol=rtol, opset=opset,
                   frontend=frontend, runs=runs, seed=seed, sizes=sizes, localize=localize)


def _parity(model, inputs, onnx_model: onnx.ModelProto, weights: Weights, *, device: str,
            atol: Optional[float], rtol: Optional[float], opset: int, frontend: str, runs: int = 1,
            seed: int = 0, sizes: Optional[dict] = None, localize: bool = True) -> parity.ParityReport:
    """``check_parity`` on prepared inputs, for a ModelProto whose large weights may be in
    ``weights`` beside it."""
    problem = parity.input_problem(onnx_model, inputs)
    if problem:
        return parity.ParityReport(device=device, problem=problem)
    inputs = inputs.with_dims(_symbolic_dims(onnx_model))
    user_rtol = rtol
    atol, rtol = tolerances.resolve(onnx_model, atol, rtol)
    runtime = create_runtime(runtime_source(onnx_model, weights), device)
    if user_rtol is None:
        rtol = parity.device_rtol(rtol, runtime.device)
    names = [o.name for o in onnx_model.graph.output]
    report = parity.check(model, runtime, inputs, names, atol, rtol, seed=seed, runs=runs, sizes=sizes)
    report.note = runtime.note
    if not report.ok and localize:
        failing = next(run for run in report.runs if not run.ok)
        report.diagnosis = first_divergence(model, inputs.with_examples(failing.inputs), opset, atol, rtol,
                                            frontend).line()
    return report


def _symbolic_dims(onnx_model: onnx.ModelProto) -> list[tuple]:
    """Per ONNX input, ``((dim, symbol), ...)`` for its ``dim_param`` dims."""
    return [tuple((i, d.dim_param) for i, d in enumerate(value.type.tensor_type.shape.dim) if d.HasField("dim_param"))
            for value in parity.graph_inputs(onnx_model)]
