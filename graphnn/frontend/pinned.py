"""Where torch.export pinned a dim the user asked to keep dynamic.

torch.export's constraint violation ("you marked batch as dynamic but your code specialized it
to be a constant (2)") names neither the line nor the op. On that failure the export is run once
more with a watch on torch's shape guards: the first equality guard that pins one of the
inputs' symbols to a number is where the model fixed the dim, and the Python stack at that
moment gives the model's line (its code: the op) and the innermost layer whose forward ran it.
A dim pinned inside one of torch's own layers (torch.export fixes a GRU's sequence length) keeps
the general message, which says a layer fixed it and suggests the fx frontend.
"""
from __future__ import annotations

import contextlib
import linecache
import sys
from typing import Callable, Optional

import torch

from graphnn.frontend.source import file_line, is_user_file


class _Watch:
    """The first pinning guard's place: ``fixb.py:6 (`y = x.reshape(2, 12)`) in layer 'fc'``."""

    def __init__(self, model: torch.nn.Module):
        self.paths = {id(module): path for path, module in model.named_modules()}
        self.where: Optional[str] = None

    def saw(self, guard) -> None:
        if self.where is None and _pins_a_symbol(guard):
            self.where = self._place(sys._getframe(2))

    def _place(self, frame) -> Optional[str]:
        line, layer = None, None
        while frame is not None:
            if line is None and _in_torch_layer(frame):
                return None  # torch's own layer (a GRU's sequence): the existing message says so
            if line is None and is_user_file(frame.f_code.co_filename):
                code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
                line = file_line(frame.f_code.co_filename, frame.f_lineno) + (f" (`{code}`)" if code else "")
            owner = frame.f_locals.get("self") if frame.f_code.co_name == "forward" else None
            if layer is None and line and isinstance(owner, torch.nn.Module) and id(owner) in self.paths:
                layer = self.paths[id(owner)]  # "" for the model itself: no layer to name
            frame = frame.f_back
        if line is None:
            return None
        return f"{line} in layer {layer!r}" if layer else line


def _in_torch_layer(frame) -> bool:
    owner = frame.f_locals.get("self") if frame.f_code.co_name == "forward" else None
    return isinstance(owner, torch.nn.Module) and type(owner).__module__.startswith("torch.nn")


def _pins_a_symbol(guard) -> bool:
    """``Eq(12*s77, 24)``: an equality with one free symbol, which fixes that symbol."""
    import sympy
    return isinstance(guard, sympy.Eq) and len(guard.free_symbols) == 1


@contextlib.contextmanager
def _watching(watch: _Watch):
    from torch.fx.experimental.symbolic_shapes import ShapeEnv
    original = ShapeEnv._log_guard

    def logged(self, prefix, guard, *args, **kwargs):
        watch.saw(guard)
        return original(self, prefix, guard, *args, **kwargs)

    ShapeEnv._log_guard = logged
    try:
        yield
    finally:
        ShapeEnv._log_guard = original


def pinning_place(model: torch.nn.Module, export: Callable[[], object]) -> Optional[str]:
    """Run ``export`` (which fails the same way again) watching torch's guards; the place of the
    first guard that pinned a symbol, None when torch's internals do not allow the watch."""
    watch = _Watch(model)
    try:
        with _watching(watch):
            export()
    except Exception:  # the same failure, expected
        pass
    return watch.where
