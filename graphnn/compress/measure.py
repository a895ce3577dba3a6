"""How far a converted file is from torch, and how far is allowed.

The reference is torch on the parity inputs at two sizes of the dynamic dims (the example's,
then parity's next one: batch 1 or 3), computed once and reused by every candidate file.
Two measures, per output:

- **relative error**: ``||onnx - torch||_2 / ||torch||_2`` over the whole output (norm-relative:
  int8 and float16 errors are spread over every element, and a max-abs bound would be ruled
  by the largest logit). The worst output and size count.
- **top-1 agreement**, for classifier-like outputs (a name with ``logits``, or the only output
  when it is 2-D): the share of rows whose arg-max matches torch's. Rows where torch's top
  two differ by less than the relative error allows (``rel * ||row||``) are ties that a
  within-tolerance error may flip; they are not counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import torch

from graphnn.checking.parity import draw_inputs, size_plans, torch_outputs
from graphnn.errors import GraphnnError
from graphnn.inputs import ModelInputs
from graphnn.tensors import to_numpy


@dataclass(frozen=True)
class Tolerance:
    """A converted file passes when every output's relative error is at most ``rel`` and every
    classifier-like output's top-1 agreement is at least ``top1``."""
    rel: float
    top1: float = 0.99

    def __str__(self) -> str:
        return f"relative error <= {self.rel:g} (||onnx - torch|| / ||torch|| per output), " \
               f"top-1 agreement >= {self.top1:g} on classifier-like outputs"


DEFAULT_TOLERANCES = {"int8": Tolerance(rel=5e-2), "float16": Tolerance(rel=1e-2)}
_PAIR = re.compile(r"^\s*(rel|top1)\s*=\s*(\S+)\s*$")


def parse_tolerance(text: Optional[str], kind: str) -> Tolerance:
    """``0.02`` (relative error), or ``rel=0.02,top1=0.95``; missing keys keep ``kind``'s default."""
    default = DEFAULT_TOLERANCES[kind]
    if text is None or str(text).strip() == "":
        return default
    values = {"rel": default.rel, "top1": default.top1}
    parts = [p for p in str(text).split(",") if p.strip()]
    try:
        if len(parts) == 1 and "=" not in parts[0]:
            values["rel"] = float(parts[0])
        else:
            for part in parts:
                found = _PAIR.match(part)
                if not found:
                    raise ValueError(part)
                values[found.group(1)] = float(found.group(2))
    except ValueError:
        raise GraphnnError(f"--quantize-tolerance {text!r}: give a relative error such as 0.05, or "
                           f"rel=0.05,top1=0.99") from None
    if not (values["rel"] > 0 and np.isfinite(values["rel"]) and 0 <= values["top1"] <= 1):
        raise GraphnnError(f"--quantize-tolerance {text!r}: rel must be a positive number and top1 "
                           f"between 0 and 1")
    return Tolerance(**values)


@dataclass
class Reference:
    """torch's outputs on the parity inputs, with the feeds onnxruntime gets."""
    feeds: list[dict]
    expected: list[list[np.ndarray]]
    names: list[str]
    classifier: list[bool]


def reference(model: torch.nn.Module, inputs: ModelInputs, onnx_model: onnx.ModelProto, seed: int = 0) -> Reference:
    generator = torch.Generator().manual_seed(seed)
    names = [i.name for i in onnx_model.graph.input]
    feeds, expected = [], []
    for plan in size_plans(inputs.symbols)[:2]:
        tensors = draw_inputs(inputs, plan, 0, generator)
        feeds.append(dict(zip(names, (to_numpy(t) for t in tensors))))
        expected.append(torch_outputs(model, inputs, tensors))
    outputs = [o.name for o in onnx_model.graph.output]
    classifier = [_classifier_like(name, array, len(outputs)) for name, array in zip(outputs, expected[0])]
    return Reference(feeds, expected, outputs, classifier)


def _classifier_like(name: str, array: np.ndarray, count: int) -> bool:
    if array.ndim < 1 or array.shape[-1] < 2 or not np.issubdtype(array.dtype, np.floating):
        return False
    return "logits" in name.lower() or (count == 1 and array.ndim == 2)


@dataclass
class Error:
    """The worst relative error and top-1 agreement over the outputs and sizes."""
    rel: float
    top1: Optional[float] = None     # None: no classifier-like output
    output: str = ""                 # the output with the worst relative error

    def within(self, tolerance: Tolerance) -> bool:
        return self.rel <= tolerance.rel and (self.top1 is None or self.top1 >= tolerance.top1)

    def __str__(self) -> str:
        top1 = "" if self.top1 is None else f", top-1 agreement {self.top1:.3f}"
        return f"relative error {self.rel:.2e}{f' ({self.output})' if self.output else ''}{top1}"


def session(source: bytes, threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def measure(source: bytes, ref: Reference, tolerance: Tolerance, threads: int = 1) -> Error:
    """The error of the file ``source`` (serialized ModelProto) against ``ref``."""
    run = session(source, threads)
    input_types = {i.name: i.type for i in run.get_inputs()}
    worst, top1 = Error(0.0), None
    hits = total = 0
    for feeds, expected in zip(ref.feeds, ref.expected):
        actual = run.run(None, {k: _as_type(v, input_types[k]) for k, v in feeds.items()})
        for name, want, got, is_classifier in zip(ref.names, expected, actual, ref.classifier):
            rel = relative_error(want, got)
            if rel > worst.rel or not np.isfinite(rel):
                worst = Error(rel, output=name)
            if is_classifier:
                h, t = top1_hits(want, got, tolerance.rel)
                hits, total = hits + h, total + t
            if not np.isfinite(rel):
                return worst
    if any(ref.classifier):
        top1 = hits / total if total else 1.0
    return Error(worst.rel, top1, worst.output)


def relative_error(expected: np.ndarray, actual: np.ndarray) -> float:
    if not np.issubdtype(np.asarray(expected).dtype, np.floating):
        return 0.0 if np.array_equal(expected, actual) else float("inf")
    want = np.asarray(expected, dtype=np.float64)
    diff = np.linalg.norm(want - np.asarray(actual, dtype=np.float64))
    scale = np.linalg.norm(want)
    return float(diff / scale) if scale > 0 else float(diff)


def top1_hits(expected: np.ndarray, actual: np.ndarray, rel: float) -> tuple[int, int]:
    """(matching rows, counted rows): rows whose top two torch logits are closer than a
    ``rel`` error of the row may flip, so they are not counted."""
    want = np.asarray(expected, dtype=np.float64).reshape(-1, expected.shape[-1])
    got = np.asarray(actual, dtype=np.float64).reshape(-1, expected.shape[-1])
    top2 = np.sort(want, axis=1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) > rel * np.linalg.norm(want, axis=1)
    same = want.argmax(axis=1) == got.argmax(axis=1)
    return int((same & decided).sum()), int(decided.sum())


def _as_type(array: np.ndarray, ort_type: str) -> np.ndarray:
    """float16-I/O files take float16 where torch took float32."""
    return array.astype(np.float16) if ort_type == "tensor(float16)" and array.dtype == np.float32 else array
