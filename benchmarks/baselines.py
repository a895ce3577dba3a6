"""What the benchmarks compare graphnn against: the official exporters, and onnxruntime
latency measured fairly (same session options, interleaved runs, medians).

torch.onnx.export appears only in benchmarks/ and comparison tests, never in graphnn's
export path. The dynamo exporter needs `onnxscript` (pip install onnxscript).
"""
from __future__ import annotations

import io
import statistics
import time
import warnings
from typing import Callable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import torch


def official_export(model: torch.nn.Module, inputs, dynamo: bool, dynamic_dims=None,
                    opset: int = 18) -> onnx.ModelProto:
    """torch.onnx.export with the same dynamic dims graphnn was given (dim 0 by default).
    ``inputs``: a tuple of tensors, or a dict by forward parameter name (with ``dynamic_dims``
    a dict by the same names)."""
    if dynamo:
        return _official(model, inputs, True, dynamic_dims, opset, None).model_proto
    buffer = io.BytesIO()
    _official(model, inputs, False, dynamic_dims, opset, buffer)
    return onnx.load_from_string(buffer.getvalue())


def official_export_file(model: torch.nn.Module, inputs, path: str, dynamo: bool, dynamic_dims=None,
                         opset: int = 18) -> None:
    """As ``official_export``, written straight to ``path`` the way a user would (no copy in
    between), so export time and memory are the exporter's own."""
    if dynamo:
        _official(model, inputs, True, dynamic_dims, opset, None).save(path)
    else:
        _official(model, inputs, False, dynamic_dims, opset, path)


def _official(model, inputs, dynamo: bool, dynamic_dims, opset: int, target):
    """One torch.onnx.export call: the ONNXProgram (dynamo), or written to ``target``."""
    keyword = isinstance(inputs, dict)
    tensors = list(inputs.values()) if keyword else list(inputs)
    names = list(inputs) if keyword else [f"input_{i}" for i in range(len(tensors))]
    if dynamic_dims is None:
        dims = [{0: "batch"} if t.dim() >= 2 else {} for t in tensors]
    else:
        dims = [dynamic_dims.get(n, {}) for n in names] if isinstance(dynamic_dims, dict) else list(dynamic_dims)
    args, kwargs = ((), dict(inputs)) if keyword else (tuple(tensors), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            specs = [{i: torch.export.Dim(s, min=1) for i, s in d.items()} or None for d in dims]
            shapes = dict(zip(names, specs)) if keyword else tuple(specs)
            return torch.onnx.export(model.eval(), args, None, kwargs=kwargs, dynamo=True, opset_version=opset,
                                     dynamic_shapes=shapes, optimize=True, verbose=False)
        torch.onnx.export(model.eval(), args, target, kwargs=kwargs, opset_version=opset, dynamo=False,
                          input_names=names, dynamic_axes={n: d for n, d in zip(names, dims) if d})
    return None


def session(model: onnx.ModelProto, threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def feeds_for(sess: ort.InferenceSession, inputs) -> dict:
    """Feeds by position, or by name for dict inputs (an exporter may drop unused inputs)."""
    if isinstance(inputs, dict):
        return {i.name: inputs[i.name].numpy() for i in sess.get_inputs() if i.name in inputs}
    return {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs)}


def interleaved_medians(runners: dict[str, Callable[[], object]], runs: int = 50, warmup: int = 5) -> dict[str, float]:
    """Median milliseconds per runner over interleaved rounds (``interleaved_times``)."""
    return {name: statistics.median(ts) for name, ts in interleaved_times(runners, runs, warmup).items()}


def interleaved_times(runners: dict[str, Callable[[], object]], runs: int = 50,
                      warmup: int = 5) -> dict[str, list[float]]:
    """Milliseconds of every run per runner, alternating runners each round so drift hits all
    alike; each round starts with the next runner, so none always runs right after the same
    one (whose caches it would inherit)."""
    for _ in range(warmup):
        for run in runners.values():
            run()
    names = list(runners)
    times: dict[str, list] = {name: [] for name in runners}
    for i in range(runs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            runners[name]()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return max(float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max()) for x, y in zip(a, b))


def compare_files(files: dict[str, onnx.ModelProto], inputs, threads: int = 0, runs: int = 50):
    """One session per file on the same inputs: (median ms per file over interleaved runs,
    each file's outputs, the sessions)."""
    sessions = {name: session(model, threads) for name, model in files.items()}
    feeds = {name: feeds_for(s, inputs) for name, s in sessions.items()}
    outputs = {name: s.run(None, feeds[name]) for name, s in sessions.items()}
    medians = interleaved_medians({name: (lambda s=s, f=feeds[name]: s.run(None, f)) for name, s in sessions.items()},
                                  runs=runs)
    return medians, outputs, sessions


def best_of(repeat: int, fn, warm: bool = False) -> tuple[float, object]:
    """(fastest seconds of ``repeat`` calls, the last result); ``warm`` makes one untimed call
    first (the first export of a process imports and compiles a lot)."""
    if warm:
        fn()
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result
