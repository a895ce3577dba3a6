"""Parity as a test: ``assert_parity`` for a user's own tests, ``check_file`` for a MODEL_PY.

    from graphnn.testing import assert_parity

    def test_my_model_exports():
        assert_parity(MyNet(), (torch.randn(2, 3, 28, 28),), opset=17)

The pytest plugin's items (``pytest --graphnn-models models/``), ``graphnn check`` and
graphnn's own fixture tests all go through ``check_file``, so they agree on what passes.
A failure raises ``ParityMismatch``, an AssertionError whose message is the parity report:
per output the max abs and rel error, the share of elements out of tolerance and the worst
index, then the first divergent layer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import torch

from graphnn.api import check_parity
from graphnn.checking.parity import ParityReport
from graphnn.loader import LoadOptions, load
from graphnn.onnxfile.read import load_with_data

FOREIGN_FILE = ("  first divergent layer: not looked for in a given ONNX file (its layers are not graphnn's "
                "lowering of this run); `graphnn check MODEL_PY` without --onnx localizes in graphnn's own export")


class ParityMismatch(AssertionError):
    """The ONNX model does not compute what the torch model computes; the message is the report."""

    def __init__(self, report: ParityReport, what: str):
        self.report = report
        super().__init__(format_report(report, what))


def format_report(report: ParityReport, what: str) -> str:
    return "\n".join([f"{what}: {report.summary()}", *report.lines()])


def assert_parity(model: torch.nn.Module, example_inputs: Any, **options: Any) -> ParityReport:
    """Export ``model`` with graphnn and check onnxruntime against PyTorch; raises
    ParityMismatch with the report when they differ, returns the report when they agree.

    ``options`` are ``graphnn.check_parity``'s: ``onnx_model``, ``opset``, ``device``,
    ``atol``/``rtol``, ``dynamic_dims``, ``frontend``, ``runs``/``seed``, ``sizes``...
    """
    report = check_parity(model, example_inputs, **options)
    if not report.ok:
        raise ParityMismatch(report, type(model).__name__)
    return report


@dataclass
class FileReport:
    path: str
    model_name: str
    report: ParityReport


def check_file(path: str, *, loading: LoadOptions = LoadOptions(), onnx_file: Optional[str] = None,
               **options: Any) -> FileReport:
    """Parity of one MODEL_PY: graphnn's own export, or ``onnx_file`` (exported earlier, or
    by another tool) against the model. ``loading`` as the CLI's --model / --input / --dynamic..."""
    loaded, model_inputs = load(path, loading)
    if onnx_file is not None:
        options.update(onnx_model=load_with_data(onnx_file), localize=False)
    report = check_parity(loaded.model, model_inputs, **options)
    if onnx_file is not None and not report.ok and not report.problem:
        report.diagnosis = FOREIGN_FILE
    return FileReport(path, loaded.model_name, report)


def assert_file_parity(path: str, **options: Any) -> ParityReport:
    """``check_file`` as a test assertion: what each plugin item runs."""
    result = check_file(path, **options)
    if not result.report.ok:
        raise ParityMismatch(result.report, f"{os.path.basename(path)} ({result.model_name})")
    return result.report
