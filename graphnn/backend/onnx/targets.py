"""Where a file will run: ``onnx`` (any ONNX runtime: standard operators only, the default) or
one onnxruntime execution provider (``ort-cpu``, ``ort-cuda``), for which a lowering may emit
onnxruntime's contrib operators (domain ``com.microsoft``) in place of a standard composition.

A target lists the contrib kernels its provider has, by op and dtype, as onnxruntime's
ContribOperators.md registers them (``tests/test_fused_attention.py`` runs each CPU entry on the
installed onnxruntime). A lowering asks ``target.has(op, dtype)`` and falls back to the
standard ONNX composition when the kernel is missing, so a file for ``ort-cpu`` never holds
a node the CPU provider cannot run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from graphnn.errors import InputSpecError

CONTRIB = "com.microsoft"  # onnxruntime's contrib operator domain, version 1


@dataclass(frozen=True)
class Target:
    name: str
    provider: Optional[str]  # onnxruntime's execution provider; None: any runtime
    kernels: frozenset = frozenset()  # (op, dtype) of the contrib kernels the provider has

    def has(self, op: str, dtype: str) -> bool:
        return (op, dtype) in self.kernels

    @property
    def fuses(self) -> bool:
        return bool(self.kernels)


TARGETS = {
    "onnx": Target("onnx", None),
    "ort-cpu": Target("ort-cpu", "CPUExecutionProvider", frozenset({
        ("MultiHeadAttention", "float32"),
    })),
    "ort-cuda": Target("ort-cuda", "CUDAExecutionProvider", frozenset({
        ("MultiHeadAttention", "float32"), ("MultiHeadAttention", "float16"),
    })),
}
DEFAULT_TARGET = "onnx"


def target(name: str) -> Target:
    """The Target called ``name``; an unknown name is the user's mistake, said in one line."""
    if name not in TARGETS:
        raise InputSpecError(f"unknown target {name!r}: use one of {', '.join(TARGETS)}")
    return TARGETS[name]
