"""Progress on stderr for work that takes seconds, and the notes printed around it.

A live line (``[00:07] export: lower``) helps only a person watching a terminal, so it is
drawn only when stderr is a terminal, not under ``--quiet`` and not in CI (``CI`` set): logs
and pipes stay clean. It appears after ``DELAY`` seconds, so quick commands never flicker.
tqdm draws it; a small thread refreshes it so its clock ticks through one long stage; the
stages are the ones ``graphnn.timings.stage`` marks (trace, each pass, lower, parity,
write), and notes print above the line instead of through it.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Iterator, Optional, TextIO

import click

DELAY = 1.0  # seconds of work before the live line appears
REFRESH = 0.2  # seconds between redraws of its clock

_quiet = False
_active: Optional["_LiveLine"] = None


def set_quiet(quiet: bool) -> None:
    """``--quiet``: no live line and no notes; results and errors still print."""
    global _quiet
    _quiet = quiet


def shows_live_line(stream: Optional[TextIO] = None) -> bool:
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return (not _quiet and callable(isatty) and isatty() and not os.environ.get("CI")
            and os.environ.get("TERM") != "dumb")


def note(message: str) -> None:
    """One line on stderr for the user (what was loaded, traced, chosen), unless quiet."""
    if _quiet:
        return
    if _active is not None:
        _active.write(message)
    else:
        click.echo(message, file=sys.stderr)


def step(name: str) -> None:
    """A stage of the current task began (``""``: it ended): the live line shows its name."""
    if _active is not None:
        _active.set_stage(name)


@contextlib.contextmanager
def task(label: str) -> Iterator[None]:
    """A live line for the work inside the block (when ``shows_live_line()``), cleared after it."""
    global _active
    if _active is not None or not shows_live_line():
        yield
        return
    line = _active = _LiveLine(label, sys.stderr)
    try:
        yield
    finally:
        _active = None
        line.close()


class _LiveLine:
    """``[00:07] export: lower``, drawn by tqdm after DELAY; the clock counts from the task's
    start and comes first, so a line cut to the terminal's width keeps it."""

    def __init__(self, label: str, stream: TextIO):
        self._label, self._stream, self._stage = label, stream, ""
        self._start = time.monotonic()
        self._bar = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="graphnn-progress", daemon=True)
        self._thread.start()

    def _text(self) -> str:
        from tqdm import tqdm

        stage = f": {self._stage}" if self._stage else ""
        return f"[{tqdm.format_interval(time.monotonic() - self._start)}] {self._label}{stage}"

    def _tick(self) -> None:
        if self._stop.wait(DELAY):
            return
        with self._lock:
            if self._stop.is_set():
                return
            from tqdm import tqdm

            self._bar = tqdm(total=None, desc=self._text(), file=self._stream, leave=False,
                             bar_format="{desc}", mininterval=0, miniters=0, dynamic_ncols=True)
        while not self._stop.wait(REFRESH):
            self._redraw()

    def _redraw(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.set_description_str(self._text())

    def set_stage(self, name: str) -> None:
        with self._lock:
            self._stage = name
            self._redraw()

    def write(self, message: str) -> None:
        with self._lock:
            if self._bar is None:
                click.echo(message, file=sys.stderr)
            else:
                self._bar.write(message, file=self._stream)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._bar is not None:
                self._bar.close()  # leave=False: the line is erased
                self._bar = None
        self._thread.join()
