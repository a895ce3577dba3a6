"""One call from a float32 export to a converted file: the reference, the search, the report."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import onnx
import torch

from graphnn.compress import float16, quantize as int8
from graphnn.compress.choose import choose
from graphnn.compress.layers import Layer
from graphnn.compress.measure import measure, parse_tolerance, reference
from graphnn.compress.report import CompressReport, Stats, latency_ms, slower_note
from graphnn.errors import GraphnnError, UnsupportedError
from graphnn.inputs import ModelInputs
from graphnn.ir import Graph
from graphnn.onnxfile.serialize import is_large

QUANTIZE_MODES = (None, "dynamic")
PRECISIONS = ("float32", "float16")
Log = Optional[Callable[[str], None]]


def validate(quantize: Optional[str], precision: str, float16_io: bool = False, tolerance=None) -> None:
    """The user's choices, before anything is traced."""
    if quantize not in QUANTIZE_MODES:
        raise GraphnnError(f"quantize={quantize!r} is not known: use 'dynamic' (int8 weights, activations "
                           f"quantized per run) or None")
    if precision not in PRECISIONS:
        raise GraphnnError(f"precision={precision!r} is not known: use 'float32' or 'float16'")
    if quantize and precision == "float16":
        raise GraphnnError("--quantize dynamic and --precision float16 cannot be combined: onnxruntime's "
                           "integer kernels (MatMulInteger, ConvInteger) take float32 scales; pick one")
    if float16_io and precision != "float16":
        raise GraphnnError("--float16-io needs --precision float16")
    if tolerance is not None and not quantize and precision == "float32":
        raise GraphnnError("--quantize-tolerance needs --quantize dynamic or --precision float16")
    if tolerance is not None:
        parse_tolerance(tolerance, "int8" if quantize else "float16")


def compress(model: torch.nn.Module, inputs: ModelInputs, onnx_model: onnx.ModelProto, graph: Optional[Graph],
             quantize: Optional[str], precision: str, tolerance: Optional[str] = None, float16_io: bool = False,
             latency_threads: int = 1, log: Log = None) -> tuple[onnx.ModelProto, CompressReport]:
    """The converted ``onnx_model`` (a complete float32 ModelProto graphnn lowered from
    ``graph``) and its report; the layers whose conversion breaks ``tolerance`` stay float32."""
    validate(quantize, precision, float16_io, tolerance)
    if is_large(onnx_model):
        raise UnsupportedError("--quantize / --precision float16 on a model over 2 GB of weights is not supported "
                               "yet (the candidates are compared in memory, where protobuf stops at 2 GB); export "
                               "float32 and convert with onnxruntime's tools")
    kind = "int8" if quantize else "float16"
    tol = parse_tolerance(tolerance, kind)
    if kind == "int8":
        layers = int8.quantizable_layers(onnx_model, graph)
        convert_only = lambda chosen: int8.quantize(onnx_model, _nodes(chosen))  # noqa: E731
        title = "int8 dynamic (onnxruntime quantize_dynamic)"
    else:
        layers = float16.convertible_layers(onnx_model, graph)
        every = set(_nodes(layers))
        convert_only = lambda chosen: float16.convert(  # noqa: E731
            onnx_model, every - set(_nodes(chosen)), float16_io)
        title = f"float16 ({'float16' if float16_io else 'float32'} inputs/outputs, onnxruntime float16 converter)"
    ref = reference(model, inputs, onnx_model)
    check = lambda candidate: measure(candidate.SerializeToString(), ref, tol)  # noqa: E731
    _say(log, f"{title}: {len(layers)} convertible layers; tolerance: {tol}")
    choice = choose(layers, convert_only, check, tol, log)
    source, converted = onnx_model.SerializeToString(), choice.model.SerializeToString()
    before = Stats(len(source), latency_ms(source, ref.feeds[0], latency_threads), check(onnx_model))
    after = Stats(len(converted), latency_ms(converted, ref.feeds[0], latency_threads), choice.error)
    report = CompressReport(title, tol, before, after, len(layers) - len(choice.kept), len(layers), choice.kept,
                            choice.sessions, choice.passed, latency_threads, _sizes(ref.feeds))
    report.slower_note = slower_note(title, before.latency_ms, after.latency_ms,
                                     {node.op_type for node in choice.model.graph.node})
    return choice.model, report


def _nodes(layers: Sequence[Layer]) -> list[str]:
    return [node for layer in layers for node in layer.nodes]


def _sizes(feeds: list[dict]) -> str:
    shapes = [" ".join("x".join(map(str, v.shape)) for v in feed.values()) for feed in feeds]
    return " and ".join(f"[{s}]" for s in shapes)


def _say(log: Log, message: str) -> None:
    if log:
        log(message)
