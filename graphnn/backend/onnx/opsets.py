"""Which ONNX opsets graphnn emits: 18 by default (what torch.onnx uses), from 13 up
to the newest that both the onnx package and the installed onnxruntime run."""
from __future__ import annotations

import functools

import onnx
from onnx import helper

from graphnn.errors import OpsetError
from graphnn.onnxfile.probe import loads, probe_model

DEFAULT_OPSET = 18
MIN_OPSET = 13


def ir_version_for(opset: int) -> int:
    """The oldest ONNX IR version that can carry ``opset``: runtimes accept it widely."""
    return helper.find_min_ir_version_for([helper.make_opsetid("", opset)])


@functools.lru_cache(maxsize=None)
def max_opset() -> int:
    """The newest opset onnxruntime loads, found by asking it (cached per process)."""
    for opset in range(onnx.defs.onnx_opset_version(), MIN_OPSET - 1, -1):
        if loads(probe_model(opset, ir_version_for(opset))):
            return opset
    return MIN_OPSET


def check_opset(opset: int) -> int:
    newest = max_opset()
    if not MIN_OPSET <= opset <= newest:
        raise OpsetError(
            f"opset {opset} is not supported: choose {MIN_OPSET}..{newest} "
            f"(the newest the installed onnxruntime runs; default {DEFAULT_OPSET})"
        )
    return opset
