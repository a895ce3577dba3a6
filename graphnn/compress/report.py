"""What a conversion did, as lines a person reads: the tolerance, the layers kept float32
(with their error alone), size, latency and error before and after."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from graphnn.compress.layers import Layer
from graphnn.compress.measure import Error, Tolerance, session


@dataclass
class Stats:
    size: int                       # bytes of the serialized file
    latency_ms: Optional[float]     # median onnxruntime CPU latency on the example inputs
    error: Error


@dataclass
class CompressReport:
    kind: str                       # "int8 dynamic" / "float16"
    tolerance: Tolerance
    before: Stats
    after: Stats
    converted: int                  # layers converted
    total: int                      # layers the converter could convert
    kept: list[tuple[Layer, Error]] = field(default_factory=list)
    sessions: int = 0
    passed: bool = True
    threads: int = 1
    sizes: str = ""                 # the sizes the error was measured at
    slower_note: str = ""           # why the converted file runs slower, when it does

    def lines(self) -> list[str]:
        b, a = self.before, self.after
        lines = [f"{self.kind}: {self.converted}/{self.total} layers converted, checked against torch at {self.sizes}",
                 f"  tolerance: {self.tolerance}"]
        lines += [f"  kept float32: {layer.where}, error {error.rel:.1e} alone" for layer, error in self.kept]
        lines.append(f"  size     {b.size / 1024:,.1f} KB -> {a.size / 1024:,.1f} KB ({_ratio(a.size, b.size)})")
        if a.latency_ms is not None and b.latency_ms is not None:
            lines.append(f"  latency  {b.latency_ms:.3f} ms -> {a.latency_ms:.3f} ms ({_ratio(a.latency_ms, b.latency_ms)}, "
                         f"onnxruntime CPU, {self.threads} thread{'s' if self.threads != 1 else ''}, example inputs)")
        lines.append(f"  error    {b.error} -> {a.error}")
        if self.slower_note:
            lines.append(f"  note: {self.slower_note}")
        lines.append(f"  {'within tolerance' if self.passed else 'NOT within tolerance'} "
                     f"({self.sessions} onnxruntime sessions for the search)")
        return lines

    def to_dict(self) -> dict:
        return {"kind": self.kind, "rel_tolerance": self.tolerance.rel, "top1_tolerance": self.tolerance.top1,
                "size_before": self.before.size, "size_after": self.after.size,
                "latency_ms_before": self.before.latency_ms, "latency_ms_after": self.after.latency_ms,
                "error_before": self.before.error.rel, "error_after": self.after.error.rel,
                "kept_float32": [{"layer": layer.name, "source": layer.source, "error_alone": error.rel}
                                 for layer, error in self.kept], "passed": self.passed}


def latency_ms(source: bytes, feeds: dict, threads: int = 1, seconds: float = 0.25, least: int = 5) -> float:
    """Median milliseconds of one run after two warm-up runs, over ``seconds`` (at least
    ``least`` runs)."""
    run = session(source, threads)
    types = {i.name: i.type for i in run.get_inputs()}
    feeds = {k: (v.astype(np.float16) if types[k] == "tensor(float16)" and v.dtype == np.float32 else v)
             for k, v in feeds.items()}
    for _ in range(2):
        run.run(None, feeds)
    times, deadline = [], time.perf_counter() + seconds
    while len(times) < least or time.perf_counter() < deadline:
        start = time.perf_counter()
        run.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}x" if before else "n/a"


def slower_note(kind: str, before_ms: float, after_ms: float, op_types: set) -> str:
    """Why a smaller file is slower on onnxruntime's CPU provider (measured: int8 ResNet-18
    3.7x slower, ConvInteger; float16 BERT ~1.05x, float16 kernels missing)."""
    if after_ms <= before_ms:
        return ""
    if "ConvInteger" in op_types:
        return ("slower on CPU: onnxruntime's ConvInteger kernel is slower than its float Conv; int8 convolutions "
                "give a smaller file here, not a faster one")
    if kind.startswith("float16"):
        return ("slower on CPU: onnxruntime's CPU provider has few float16 kernels and runs the rest in float32 "
                "between Casts; float16 is for GPUs")
    return ""
