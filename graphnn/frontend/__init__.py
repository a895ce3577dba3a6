"""Frontends turn a torch model into the IR. Today: torch.fx (``fx_tracer``).

Mapping rules live in ``frontend/layers`` (one module per op family) and are loaded
here, so adding a family means adding a file.
"""
import importlib
import pkgutil

from graphnn.frontend import layers as _layers
from graphnn.frontend.fx_tracer import trace_fx

for _info in pkgutil.iter_modules(_layers.__path__):
    importlib.import_module(f"{_layers.__name__}.{_info.name}")

__all__ = ["trace_fx"]
