"""Programs saved with ``torch.export.save`` (``.pt2``): what PyTorch recommends keeping for
deployment. The program is already traced, so it needs no model code: the export frontend
replays its graph as is, its example inputs are the ones it was exported with, and the dims
it keeps symbolic (its range constraints) stay dynamic in the ONNX file. Parity runs the
program's own module against onnxruntime.
"""
from __future__ import annotations

import inspect
import zipfile
from typing import Any, Optional

import torch
import torch.nn as nn

from graphnn.errors import ModelLoadError

FRONTEND = "export"  # the only frontend that reads a program


def is_program(path: str) -> bool:
    """A ``torch.export.save`` archive: a zip with an ``archive_format`` record."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.rsplit("/", 1)[-1] == "archive_format" for name in archive.namelist())


class SavedProgram(nn.Module):
    """An ExportedProgram as a module graphnn can trace and check: ``forward`` runs the
    program's module (with the program's argument names), ``exported`` is read by the
    export frontend. Its ops were fixed at export time, so eval()/train() only set the flag
    (the program's own module refuses them)."""

    graphnn_frontend = FRONTEND

    def __init__(self, program: torch.export.ExportedProgram):
        super().__init__()
        runnable = program.module()
        object.__setattr__(self, "exported", program)  # plain attributes: not submodules,
        object.__setattr__(self, "_runnable", runnable)  # so modules()/eval() never reach them

        signature = inspect.signature(runnable.forward)
        positional = _positional_count(program, signature)

        def forward(*args: Any, **kwargs: Any) -> Any:
            """The program takes its first arguments by position, the others by keyword, as exported."""
            bound = signature.bind(*args, **kwargs).arguments
            names = list(bound)
            return runnable(*(bound[n] for n in names[:positional]), **{n: bound[n] for n in names[positional:]})
        forward.__signature__ = signature
        self.forward = forward

    def train(self, mode: bool = True) -> "SavedProgram":
        self.training = mode
        return self

    def named_parameters(self, *args: Any, **kwargs: Any):
        """The program's parameters (the layer table counts them)."""
        return self._runnable.named_parameters(*args, **kwargs)

    def named_buffers(self, *args: Any, **kwargs: Any):
        return self._runnable.named_buffers(*args, **kwargs)


def _positional_count(program: torch.export.ExportedProgram, signature: inspect.Signature) -> int:
    """How many arguments the program was exported with by position (the rest by keyword)."""
    spec = program.call_spec.in_spec
    if spec is not None and spec.num_children == 2:  # (args, kwargs)
        return spec.children_specs[0].num_children
    return len(signature.parameters)


def saved_program(model: nn.Module) -> Optional[torch.export.ExportedProgram]:
    return model.exported if isinstance(model, SavedProgram) else None


def read_program(path: str) -> torch.export.ExportedProgram:
    try:
        return torch.export.load(path)
    except Exception as exc:  # torch.export.load raises many kinds for foreign or newer archives
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path} could not be read by torch.export.load: {text}") from None


def example_inputs(program: torch.export.ExportedProgram, module: SavedProgram) -> Any:
    """The program's own examples: a tuple, or a dict by name when it took keywords."""
    recorded = program.example_inputs
    if recorded is None:
        return None
    args, kwargs = recorded
    if not kwargs:
        return tuple(args)
    names = list(inspect.signature(module.forward).parameters)
    return {**dict(zip(names, args)), **kwargs}


def dynamic_dims(program: torch.export.ExportedProgram) -> list[dict[int, str]]:
    """``{dim: name}`` per input (in the program's order) for each symbolic dim: one name per
    torch symbol, ``batch`` for a leading one, ``<input>_dim<i>`` otherwise."""
    names: dict[Any, str] = {}
    per_input = []
    for spec, node in _user_inputs(program):
        dims = {}
        for index, size in enumerate(getattr(node.meta.get("val"), "shape", ())):
            if isinstance(size, torch.SymInt) and size.node.expr.is_symbol:
                if size.node.expr not in names:
                    leading = index == 0 and "batch" not in names.values()
                    names[size.node.expr] = "batch" if leading else f"{spec.arg.name}_dim{index}"
                dims[index] = names[size.node.expr]
        per_input.append(dims)
    return per_input


def _user_inputs(program: torch.export.ExportedProgram):
    kind = torch.export.graph_signature.InputKind.USER_INPUT
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    return [(spec, nodes[spec.arg.name]) for spec in program.graph_signature.input_specs
            if spec.kind == kind and getattr(spec.arg, "name", None) in nodes]
