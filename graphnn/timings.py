"""Seconds and peak memory per export stage (``graphnn export --timings``).

The stages (load, trace, each pass, lower, check, parity, write) mark themselves with
``stage(name)``; that costs nothing unless a caller is ``recording()``, so the API's
signatures stay as they are. Peak memory is the process's peak RSS during the stage:
Linux lets a process restart its peak (``/proc/self/clear_refs``), elsewhere the peak
since the process started is all there is (the table says so).
"""
from __future__ import annotations

import contextlib
import contextvars
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Iterator, Optional

from graphnn import progress

_STATUS = "/proc/self/status"


def _status_mb(key: str) -> Optional[float]:
    try:
        with open(_STATUS) as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident memory now, in MB (0 where the platform does not say)."""
    return _status_mb("VmRSS:") or 0.0


def peak_mb() -> float:
    """Peak resident memory since the last ``reset_peak()`` (or process start), in MB."""
    peak = _status_mb("VmHWM:")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024


def reset_peak() -> bool:
    """Restart the peak from the current RSS; False where the platform cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


@dataclass
class Stage:
    name: str
    seconds: float
    peak_mb: float  # the process's peak RSS during the stage
    start_mb: float  # its RSS when the stage began


@dataclass
class Timings:
    stages: list[Stage] = field(default_factory=list)
    exact_peaks: bool = True  # False: peaks are since process start, not per stage

    def table(self) -> str:
        """A small fixed-width table for stderr."""
        width = max([len("stage"), *(len(s.name) for s in self.stages)])
        peak = "peak MB" if self.exact_peaks else "peak MB*"
        lines = [f"{'stage':<{width}}  {'seconds':>8}  {peak:>9}  {'+MB':>7}"]
        for s in self.stages:
            lines.append(f"{s.name:<{width}}  {s.seconds:>8.3f}  {s.peak_mb:>9.0f}  {s.peak_mb - s.start_mb:>7.0f}")
        lines.append(f"{'total':<{width}}  {sum(s.seconds for s in self.stages):>8.3f}  "
                     f"{max((s.peak_mb for s in self.stages), default=0):>9.0f}")
        if not self.exact_peaks:
            lines.append("* peak since the process started (this platform cannot restart it per stage)")
        return "\n".join(lines)


_ACTIVE: contextvars.ContextVar[Optional[Timings]] = contextvars.ContextVar("graphnn_timings", default=None)


@contextlib.contextmanager
def recording(enabled: bool = True) -> Iterator[Timings]:
    """Record every ``stage`` run inside the block into the Timings it yields."""
    timings = Timings()
    token = _ACTIVE.set(timings if enabled else None)
    try:
        yield timings
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time one stage (and its peak memory) when someone is recording; the live progress
    line, where there is one, shows the stage's name while it runs."""
    progress.step(name)
    timings = _ACTIVE.get()
    if timings is None:
        yield
        progress.step("")
        return
    timings.exact_peaks = reset_peak() and timings.exact_peaks
    start_mb, start = rss_mb(), time.perf_counter()
    try:
        yield
    finally:
        # the kernel updates the peak (VmHWM) lazily, so it may read below the RSS it has seen
        peak = max(peak_mb(), rss_mb(), start_mb)
        timings.stages.append(Stage(name, time.perf_counter() - start, peak, start_mb))
        progress.step("")
