"""What torch.fx would silently leave out of a model, found before it traces.

fx calls each submodule's ``forward`` directly (a torch.nn layer becomes one node; its
rule reads the layer's attributes), so anything torch attaches to ``Module.__call__`` never
runs: forward hooks and pre-hooks (``register_forward_hook``, old-style ``weight_norm`` /
``spectral_norm``, global hooks from ``register_module_forward_hook``), and a ``forward``
replaced on one instance (``layer.forward = patched``, as monkey-patching libraries do),
which fx and the layer rules ignore in favour of the class's. Each changes what the model
computes, so exporting without it would be a wrong file.

torch.export runs the model as eager does, hooks and patched forwards included, so under
``auto`` these become a TraceError that falls back to it; ``--frontend fx`` refuses them,
naming the module and the hook. Two exceptions:

- old-style ``weight_norm`` / ``spectral_norm`` pre-hooks only recompute the layer's
  ``weight`` attribute from other parameters (no power iteration in eval mode), so fx is
  fine once they have run: ``refresh_parameters`` runs them (the attribute may be stale
  since a ``load_state_dict``) and fx reads the weight as a forward would;
- a bare layer exported as the model is converted by its rule under both frontends, and
  global hooks run inside torch.export's own machinery: both are refused for every frontend.
"""
from __future__ import annotations

import inspect
from typing import Callable, Iterator, NamedTuple

import torch
from torch.nn.modules import module as _module
from torch.nn.utils.spectral_norm import SpectralNorm
from torch.nn.utils.weight_norm import WeightNorm

from graphnn.errors import TraceError, UnsupportedError
from graphnn.frontend.source import file_line
from graphnn.modes import eval_mode

# Pre-hooks that only recompute a parameter attribute: run once, then fx reads the result.
_REFRESHING = (WeightNorm, SpectralNorm)


class Skipped(NamedTuple):
    """One thing fx would skip: where (module path, ``<root>`` or ``<all modules>``), what."""

    module: str
    what: str  # "forward hook", "forward pre-hook", "forward replaced on the instance"
    function: Callable

    def line(self) -> str:
        return f"{self.module} has a {self.what} {describe_function(self.function)}"


# (registry on a module / on torch.nn globally, what it is)
_MODULE_HOOKS = (("_forward_pre_hooks", "forward pre-hook"), ("_forward_hooks", "forward hook"))
_GLOBAL_HOOKS = (("_global_forward_pre_hooks", "global forward pre-hook"),
                 ("_global_forward_hooks", "global forward hook"))


def skipped_by_fx(model: torch.nn.Module) -> list[Skipped]:
    """Every hook and instance-level forward that fx would not run, in module order."""
    found = [Skipped("<all modules>", what, hook) for name, what in _GLOBAL_HOOKS
             for hook in getattr(_module, name, {}).values()]
    for path, module in model.named_modules():
        found.extend(_on_module(path or "<root>", module))
    return found


def _on_module(path: str, module: torch.nn.Module) -> Iterator[Skipped]:
    for attribute, what in _MODULE_HOOKS:
        for hook in getattr(module, attribute, {}).values():
            if not isinstance(hook, _REFRESHING):
                yield Skipped(path, what, hook)
    patched = module.__dict__.get("forward")
    if patched is not None:
        yield Skipped(path, "forward replaced on the instance", patched)


def refresh_parameters(model: torch.nn.Module) -> None:
    """Run the weight_norm / spectral_norm pre-hooks as an eval forward would, so the
    ``weight`` the layer rules read is the one the model computes with."""
    with eval_mode(model), torch.no_grad():
        for module in model.modules():
            for hook in list(module._forward_pre_hooks.values()):
                if isinstance(hook, _REFRESHING):
                    hook(module, ())


def refuse_for_every_frontend(model: torch.nn.Module, is_bare_layer: bool) -> None:
    """Global hooks, and hooks on a bare layer (converted by its rule, not traced): no
    frontend keeps them, so say so and what to do."""
    found = skipped_by_fx(model)
    global_hooks = [s for s in found if s.module == "<all modules>"]
    if global_hooks:
        raise UnsupportedError(f"{global_hooks[0].line()}: it runs on every module, torch's internals "
                               f"included, so graphnn cannot export it; remove it before exporting")
    if is_bare_layer and found:
        raise UnsupportedError(f"{found[0].line()}: a single layer given as the model is converted "
                               f"without its hooks; wrap it (nn.Sequential(layer)) so they are traced")


def refuse_for_fx(model: torch.nn.Module, explicit: bool) -> None:
    """A TraceError naming the first thing fx would skip (``auto`` then uses torch.export)."""
    found = skipped_by_fx(model)
    if not found:
        return
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    advice = "; use --frontend export (or auto), which runs them" if explicit else ""
    raise TraceError(f"torch.fx does not run forward hooks or patched forwards: "
                     f"{found[0].line()}{more}{advice}")


def describe_function(function: Callable) -> str:
    """``double (model.py:12)``: the hook's name and where it is defined, when known."""
    target = getattr(function, "func", function)  # functools.partial
    target = getattr(target, "__func__", target)  # bound methods
    name = getattr(target, "__qualname__", None) or type(target).__name__
    code = getattr(target, "__code__", None)
    if code is None:
        return name
    try:
        path = inspect.getsourcefile(target) or code.co_filename
    except TypeError:
        path = code.co_filename
    return f"{name} ({file_line(path, code.co_firstlineno)})"
