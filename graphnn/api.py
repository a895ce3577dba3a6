"""The Python API: each function is one walk down trace -> passes -> lower -> run.

    graph = graphnn.trace(model, (x,))                   # IR with shapes
    result = graphnn.export(model, (x,), "model.onnx")   # ONNX + parity report
    report = graphnn.check_parity(model, (x,))           # parity only
    tokens = graphnn.generate("llm.onnx", [[1, 2, 3]])   # greedy decoding with the file

The CLI calls these and only adds argument parsing and printing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import onnx
import torch

from graphnn import compress, timings
from graphnn.backend.onnx import DEFAULT_OPSET, check_opset, to_onnx
from graphnn.backend.onnx.targets import DEFAULT_TARGET
from graphnn.build import Export, Log, build
from graphnn.checking import parity, tolerances
from graphnn.checking.localize import first_divergence
from graphnn.checking.runtime import create_runtime
from graphnn.frontend import trace_model
from graphnn.hf.generate import generate  # noqa: F401  (public API: greedy decoding with exported files)
from graphnn.dynamic import inferred_inputs
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.onnxfile.read import symbolic_dims
from graphnn.onnxfile.serialize import NO_WEIGHTS, Weights, fill_weights, runtime_source, save_onnx
from graphnn.passes import run_passes


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
    inputs = inferred_inputs(model, example_inputs, dynamic_dims, dynamic_batch)
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
    built: Optional[Export] = field(default=None, repr=False)  # both IRs, the inputs and the opset
    compression: Optional[compress.CompressReport] = None  # int8 / float16: what was converted, kept

    @property
    def ok(self) -> bool:
        return (self.report is None or self.report.ok) and (self.compression is None or self.compression.passed)

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
           quantize: Optional[str] = None, precision: str = "float32", quantize_tolerance=None,
           float16_io: bool = False, log: Log = None, target: str = DEFAULT_TARGET) -> ExportResult:
    """Trace, optimize, lower, check parity, and write ``path`` if parity holds.

    A file that fails parity is not written (``result.ok`` is False, ``result.report``
    says where); pass ``check=False`` to write without checking. Inputs, ``dynamic_dims``
    and ``frontend`` as in ``trace``. ``quantize="dynamic"`` (int8 weights) or
    ``precision="float16"`` converts the checked float32 file, keeping in float32 the layers
    whose conversion breaks ``quantize_tolerance`` against torch (``graphnn.compress``;
    ``result.compression`` is the report); ``float16_io`` makes float16 inputs/outputs.
    ``target``: ``onnx`` (standard operators), or
    ``ort-cpu`` / ``ort-cuda`` for onnxruntime's fused kernels on that provider (``backend.onnx.targets``).
    """
    compress.validate(quantize, precision, float16_io, quantize_tolerance)
    inputs = inferred_inputs(model, example_inputs, dynamic_dims, dynamic_batch)
    built = build(model, inputs, check_opset(opset), frontend, optimize_graph, log, target)
    result = ExportResult(built.graph, None, model_without_weights=built.onnx_model, weights=built.weights,
                          built=built)
    if check:
        with timings.stage("parity"):
            result.report = _parity(model, built, device=device, atol=atol, rtol=rtol)
    if result.ok and (quantize or precision != "float32"):
        with timings.stage("compress"):
            converted, result.compression = compress.compress(
                model, built.inputs, result.onnx_model, built.graph, quantize, precision, quantize_tolerance,
                float16_io, log=log)
        result.model_without_weights, result.weights = converted, {}
    if path and result.ok:
        with timings.stage("write"):
            result.written = save_onnx(result.model_without_weights, path, result.weights)
    return result


def check_parity(model: torch.nn.Module, example_inputs, onnx_model: Optional[onnx.ModelProto] = None, *,
                 device: str = "cpu", atol: Optional[float] = None, rtol: Optional[float] = None,
                 opset: int = DEFAULT_OPSET, dynamic_batch: bool = True, dynamic_dims=None,
                 frontend: str = "auto", optimize_graph: bool = True, runs: int = 1, seed: int = 0,
                 sizes: Optional[dict] = None, localize: bool = True,
                 target: str = DEFAULT_TARGET) -> parity.ParityReport:
    """Compare onnxruntime with PyTorch; exports first when ``onnx_model`` is None.

    Parity runs at the example's sizes and at two other sizes of every dynamic dim (the
    ONNX inputs' symbolic dims). ``atol`` / ``rtol`` default to what the file computes
    (``graphnn.checking.tolerances``: 1e-4 / 1e-4 for float32; rtol at least 1e-3 on CUDA). On a mismatch, ``report.diagnosis`` names the first layer
    whose output diverges (``localize=False`` skips that: for a file graphnn did not lower, it
    would name graphnn's lowering, not the file's). ``runs``: random draws per size (``seed``);
    ``sizes``: a dynamic dim's sizes to check, ``{"batch": [1, 4, 16]}``.
    """
    inputs = inferred_inputs(model, example_inputs, dynamic_dims, dynamic_batch)
    settings = dict(device=device, atol=atol, rtol=rtol, runs=runs, seed=seed, sizes=sizes, localize=localize)
    if onnx_model is None:
        built = build(model, inputs, check_opset(opset), frontend, optimize_graph, target=target)
        return _parity(model, built, **settings)
    return _parity_of_file(model, inputs, onnx_model, opset, frontend, **settings)


def _parity_of_file(model, inputs: ModelInputs, onnx_model: onnx.ModelProto, opset: int, frontend: str,
                    **settings) -> parity.ParityReport:
    """Parity of a ModelProto from elsewhere: the dims that vary are its ``dim_param``s, and
    localization, if asked for, builds the model's own unoptimized export to look in."""
    problem = parity.input_problem(onnx_model, inputs)
    if problem:
        return parity.ParityReport(device=settings["device"], problem=problem)
    inputs = inputs.with_dims(symbolic_dims(onnx_model))
    localized = lambda: build(model, inputs, check_opset(opset), frontend, optimize_graph=False)  # noqa: E731
    return _compare(model, inputs, onnx_model, NO_WEIGHTS, localized, **settings)


def _parity(model, built: Export, **settings) -> parity.ParityReport:
    """Parity of a build: its inputs' dims vary, and localization looks in its traced IR."""
    problem = parity.input_problem(built.onnx_model, built.inputs)
    if problem:
        return parity.ParityReport(device=settings["device"], problem=problem)
    return _compare(model, built.inputs, built.onnx_model, built.weights, lambda: built, **settings)


def _compare(model, inputs: ModelInputs, onnx_model: onnx.ModelProto, weights: Weights, localized, *,
             device: str, atol: Optional[float], rtol: Optional[float], runs: int = 1, seed: int = 0,
             sizes: Optional[dict] = None, localize: bool = True) -> parity.ParityReport:
    """torch against onnxruntime on ``inputs``; on a mismatch, the first divergent layer of
    the Export ``localized()`` gives."""
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
        report.diagnosis = first_divergence(model, localized(), inputs.with_examples(failing.inputs),
                                            atol, rtol).line()
    return report
