"""Where in the user's code something happened, and how a tracing failure is worded.

Both frontends name the user's line (``model.py:14``): fx from the stack while it traces,
torch.export from each node's recorded ``stack_trace``, and both from a failing trace's
traceback. Every such frame walk asks one question, whether a file is the user's, so it is
answered here once (and cached); the wording of "this forward does not trace" lives here too,
so a branch on tensor values reads the same whichever frontend met it.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
import sysconfig
import traceback
from typing import Optional

import torch

from graphnn.errors import TraceError

# The fx node meta key holding the user's line that made the node (fx's tracer and inline set it).
SOURCE_KEY = "graphnn_source"

# With the separator: .../site-packages/torchvision is not inside .../site-packages/torch.
TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_GRAPHNN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _package_dirs(*names: str) -> tuple[str, ...]:
    """Folders of packages whose frames are never the user's: the CLI (``graphnn.cli`` lives in
    the repository's cli/ when installed editable) and click under it."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None:
            dirs += [os.path.abspath(d) + os.sep for d in spec.submodule_search_locations or []]
    return tuple(dirs)


_NOT_USER_DIRS = (TORCH_DIR, _GRAPHNN_DIR) + _package_dirs("graphnn.cli", "click")


_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_SITE = tuple({sysconfig.get_paths()[k] + os.sep for k in ("purelib", "platlib")})  # may lie inside _STDLIB


@functools.lru_cache(maxsize=4096)
def is_user_file(path: str) -> bool:
    """Cached: every traced node walks some twenty frames of a handful of files."""
    path = os.path.abspath(path)
    if path.startswith(_STDLIB) and not path.startswith(_SITE):  # runpy, contextlib...
        return False
    return not (path.startswith(_NOT_USER_DIRS) or "<" in path)


def file_line(path: str, line: int) -> str:
    """``model.py:14``: how every message and node names a line."""
    return f"{os.path.basename(path)}:{line}"


def innermost_user_line(outermost=None) -> Optional[str]:
    """The user's line on the current stack (fx creates a node while the user's forward runs).
    The walk stops at the frame running the code object ``outermost`` (the tracer's entry):
    frames beyond it called the tracer, they are not the model's code. Without the stop, the
    layers of an ``nn.Sequential`` (no forward of the user's) were attributed to whatever
    called graphnn: the console script's line, a test's."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not outermost:
        if is_user_file(frame.f_code.co_filename):
            return file_line(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def user_line_in(stack_trace: str) -> Optional[str]:
    """The innermost user frame of a recorded stack trace (torch.export's ``stack_trace``
    ends in torch's own files, e.g. nn/modules/linear.py for a layer's call)."""
    for path, line in reversed(_FRAME.findall(stack_trace)):
        if os.path.isabs(path) and is_user_file(path):  # torch's own frames may be relative
            return file_line(path, int(line))
    return None


def user_line_of(exc: BaseException) -> str:
    """The innermost user frame of an exception raised while tracing, with its code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if is_user_file(f.filename)]
    if not frames:
        return "the model's forward"
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"{file_line(frame.filename, frame.lineno)}{code}"


def first_line(exc: BaseException) -> str:
    """What an exception says, in one line (its type when it says nothing)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def data_dependent_error(where: str) -> TraceError:
    """A branch or loop on tensor values: neither frontend can export it."""
    return TraceError(
        f"data-dependent control flow at {where}: graphnn traces the model once, so "
        f"Python branches or loops on tensor values cannot be exported; rewrite it "
        f"with tensor ops (e.g. torch.where)")


def trace_failure(exc: BaseException, tracer: str = "") -> TraceError:
    """Any other failure of ``tracer`` (``torch.export``; fx's says no name): where and what."""
    prefix = f"{tracer} " if tracer else ""
    return TraceError(f"{prefix}cannot trace the model at {user_line_of(exc)}: {first_line(exc)}")


# A branch whose line reads one of these tests a shape or dtype, not the tensor's values.
_STATIC_FACTS = (".dtype", ".shape", ".size(", ".dim(", ".ndim", "is_floating_point", "len(", ".device")


def fx_trace_error(exc: BaseException) -> TraceError:
    """Why fx stopped, in the user's terms. Iterating or unpacking a traced value (a shape,
    a split's result) and branching on a shape or dtype are fx's limits, not the model's:
    they say so (and `auto` goes on with torch.export); only a branch on a tensor's values
    is data-dependent control flow."""
    where = user_line_of(exc)
    text = first_line(exc)
    if "iterate" in text:
        return TraceError(f"torch.fx cannot iterate or unpack a traced value (a shape, a split's "
                          f"result) at {where}")
    if "control flow" in text or "bool" in text.lower():
        if any(fact in where for fact in _STATIC_FACTS):
            return TraceError(f"torch.fx cannot evaluate a branch on a tensor's shape or dtype at {where}")
        return data_dependent_error(where)
    return trace_failure(exc)
