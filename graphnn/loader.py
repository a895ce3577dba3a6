"""Load MODEL_PY: find the model and its example inputs.

MODEL_PY is usually a model.py: it is imported as a module with its top-level prints sent
to stderr, so stdout stays clean for ``graphnn graph --dot > g.dot``. The seeds' tutorial
scripts work unchanged: they build ``model`` and ``dummy_input`` at top level. ``--weights``
then loads a trained state dict into that model (``graphnn.checkpoints``).

It may also be a trained model as users keep one: a ``torch.export.save``d program
(``graphnn.programs``: its own inputs and dynamic dims), or a whole pickled module, which
is loaded only with ``--trust-pickle``. Which of these a file is comes from its content
(``_SOURCES``), so a program saved as ``model.pt`` works too.
"""
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch.nn as nn

from graphnn import checkpoints, programs
from graphnn.errors import InputSpecError, ModelLoadError
from graphnn.dynamic import inferred_inputs
from graphnn.hf.folder import is_checkpoint_folder, load_folder
from graphnn.inputs import (ModelInputs, inputs_from_specs, normalize_example_inputs,
                            parse_dynamic_spec, parse_input_spec)

MODEL_NAMES = ("model",)
DYNAMIC_DIMS_NAME = "dynamic_dims"  # e.g. dynamic_dims = [{0: "seq", 1: "batch"}]
INPUT_NAMES = ("example_inputs", "dummy_input", "example_input")


@dataclass
class LoadedModel:
    model: nn.Module
    example_inputs: Any  # a tuple of tensors, a dict by input name, or None
    path: str
    model_name: str
    dynamic_dims: Any = None  # the file's module-level ``dynamic_dims`` (a program's own)
    kind: str = "python"  # which of _SOURCES the file is


@dataclass(frozen=True)
class LoadOptions:
    """How to load MODEL_PY and what to feed it, as the CLI's options say it (--model,
    --weights, --trust-pickle, --input, --dynamic, --static)."""

    model_name: Optional[str] = None
    weights: Optional[str] = None
    trust_pickle: bool = False
    input_specs: Sequence[str] = ()
    dynamic_specs: Sequence[str] = ()
    static: bool = False
    task: Optional[str] = None  # a checkpoint folder's task (graphnn.hf.tasks), else inferred


def import_file(path: str):
    """Import ``path`` as a fresh module; errors in it become one-line ModelLoadErrors."""
    if not os.path.isfile(path):
        raise ModelLoadError(f"model file {path!r} does not exist")
    if not path.endswith(".py"):
        raise ModelLoadError(f"model file {path!r} is not a Python file (.py)")
    folder = os.path.dirname(os.path.abspath(path))
    name = f"graphnn_user_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except SystemExit:
        raise ModelLoadError(f"{path} called exit() while being imported") from None
    except Exception as exc:  # the user's code failed: say where, in one line
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if os.path.abspath(f.filename) == os.path.abspath(path)]
        where = f"{os.path.basename(path)}:{frames[-1].lineno}" if frames else os.path.basename(path)
        raise ModelLoadError(f"importing {where} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def _build(obj: Any, label: str, path: str) -> nn.Module:
    """An instance as is; a class or factory called with no arguments."""
    if isinstance(obj, nn.Module):
        return obj
    if callable(obj):
        try:
            with contextlib.redirect_stdout(sys.stderr):
                built = obj()
        except TypeError as exc:
            raise ModelLoadError(f"{label} in {path} cannot be built without arguments ({exc}); "
                                 f"create an instance at module level, e.g. model = {label}(...)") from None
        if isinstance(built, nn.Module):
            return built
    raise ModelLoadError(f"{label} in {path} is not an nn.Module, nor a class or function returning one")


def _candidates(module) -> tuple[list[str], list[str]]:
    instances = [k for k, v in vars(module).items() if isinstance(v, nn.Module) and not k.startswith("_")]
    classes = [
        k for k, v in vars(module).items()
        if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == module.__name__
    ]
    return instances, classes


def find_model(module, path: str, name: Optional[str] = None) -> tuple[nn.Module, str]:
    instances, classes = _candidates(module)
    listing = ", ".join(instances + classes) or "none"
    if name is not None:
        if not hasattr(module, name):
            raise ModelLoadError(f"--model {name}: {path} has no such name (nn.Modules there: {listing})")
        return _build(getattr(module, name), name, path), name
    for default in MODEL_NAMES:
        if isinstance(getattr(module, default, None), nn.Module):
            return getattr(module, default), default
    if len(instances) == 1:
        return getattr(module, instances[0]), instances[0]
    if len(instances) > 1:
        raise ModelLoadError(f"{path} defines several nn.Module instances ({', '.join(instances)}): "
                             f"choose one with --model NAME")
    buildable = [c for c in classes if _builds_without_args(getattr(module, c))]
    if len(buildable) == 1:
        return _build(getattr(module, buildable[0]), buildable[0], path), buildable[0]
    if not buildable:
        raise ModelLoadError(f"no model found in {path}: define `model = MyNet(...)` or name it with "
                             f"--model NAME (nn.Module classes there: {', '.join(classes) or 'none'})")
    raise ModelLoadError(f"{path} defines several nn.Module classes ({', '.join(buildable)}): "
                         f"choose one with --model NAME")


def _builds_without_args(cls) -> bool:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def find_example_inputs(module, path: str) -> Any:
    """A tuple of tensors, or a dict of tensors by forward parameter name."""
    for name in INPUT_NAMES:
        if hasattr(module, name):
            value = getattr(module, name)
            if isinstance(value, dict):
                return value
            return normalize_example_inputs(value, f"{name} in {path}")
    return None


def load_model_file(path: str, model_name: Optional[str] = None, weights: Optional[str] = None,
                    trust_pickle: bool = False, task: Optional[str] = None) -> LoadedModel:
    """The model in ``path`` (a model.py, a saved program, a pickled module, a checkpoint
    folder), with the state dict in ``weights`` loaded into it."""
    kind = source_kind(path)
    if model_name is not None and kind != "python":
        raise ModelLoadError(f"--model {model_name}: {path} is not a Python file; it holds one model")
    if task is not None and kind != "folder":
        raise ModelLoadError(f"--task {task} builds a model from a checkpoint folder (config.json + "
                             f"*.safetensors); {path} is not one")
    loaded = _from_folder(path, task) if kind == "folder" else _SOURCES[kind](path, model_name, trust_pickle)
    if weights is not None:
        if kind not in WEIGHTS_INTO:
            raise ModelLoadError(f"--weights loads a state dict into the model that a model.py builds; "
                                 f"{path} is a saved program and holds its own weights")
        checkpoints.load_weights(loaded.model, weights)
    return loaded


def source_kind(path: str) -> str:
    """``python``, ``program``, or what a torch.save file holds (``pickle``, ``weights``,
    ``torchscript``), read from the file's content."""
    if is_checkpoint_folder(path):
        return "folder"
    if os.path.isdir(path):
        raise ModelLoadError(f"{path} is a folder without config.json: pass a MODEL_PY file or a checkpoint "
                             f"folder written by save_pretrained (config.json + *.safetensors)")
    if not os.path.isfile(path):
        raise ModelLoadError(f"model file {path!r} does not exist")
    if path.endswith(".py"):
        return "python"
    if programs.is_program(path):
        return "program"
    return checkpoints.torch_file_kind(path)


def _from_python(path: str, model_name: Optional[str], trust_pickle: bool) -> LoadedModel:
    module = import_file(path)
    model, name = find_model(module, path, model_name)
    return LoadedModel(model, find_example_inputs(module, path), path, name,
                       getattr(module, DYNAMIC_DIMS_NAME, None))


def _from_folder(path: str, task: Optional[str]) -> LoadedModel:
    model, examples, dims, task = load_folder(path, task)
    return LoadedModel(model, examples, path, task, dims, kind="folder")


def _from_program(path: str, model_name: Optional[str], trust_pickle: bool) -> LoadedModel:
    program = programs.read_program(path)
    model = programs.SavedProgram(program)
    examples = programs.example_inputs(program, model)
    dims = programs.dynamic_dims(program)
    if isinstance(examples, dict):
        dims = dict(zip(examples, dims))
    return LoadedModel(model, examples, path, "program", dims, kind="program")


def _from_pickle(path: str, model_name: Optional[str], trust_pickle: bool) -> LoadedModel:
    if not trust_pickle:
        raise checkpoints.refuse_pickle(path)
    model = checkpoints.load_pickled_module(path)
    return LoadedModel(model, None, path, type(model).__name__, kind="pickle")


def _refuse_state_dict(path: str, model_name: Optional[str], trust_pickle: bool) -> LoadedModel:
    raise ModelLoadError(f"{path} holds weights only (a state dict), not the model's code: pass the "
                         f"Python file that builds the model as MODEL_PY and this file as --weights {path}")


def _refuse_torchscript(path: str, model_name: Optional[str], trust_pickle: bool) -> LoadedModel:
    raise checkpoints.refuse_torchscript(path, "MODEL_PY")


_SOURCES = {
    "python": _from_python,
    "program": _from_program,
    "pickle": _from_pickle,
    "weights": _refuse_state_dict,
    "torchscript": _refuse_torchscript,
}
WEIGHTS_INTO = ("python", "pickle")  # kinds whose model --weights can load a state dict into


def resolve_dynamic_dims(loaded: LoadedModel, input_specs: Sequence[str], dynamic_specs: Sequence[str]) -> Any:
    """--dynamic specs (one per input in order, or ``NAME:...``) win over the file's
    ``dynamic_dims``, which describe the file's own examples, not --input's; None leaves the
    default (dim 0 is ``batch``)."""
    if not dynamic_specs:
        return None if input_specs else loaded.dynamic_dims
    parsed = [parse_dynamic_spec(s) for s in dynamic_specs]
    named = [name is not None for name, _ in parsed]
    if any(named) and not all(named):
        raise InputSpecError("name the input in every --dynamic (x:0=batch) or in none of them")
    if all(named):
        return {name: dims for name, dims in parsed}
    return [dims for _, dims in parsed]


def resolve_inputs(loaded: LoadedModel, specs: Sequence[str]) -> Any:
    """--input specs win over the file's example inputs; one of the two must exist."""
    if specs:
        return inputs_from_specs([parse_input_spec(s) for s in specs])
    if loaded.example_inputs is None and loaded.kind != "python":
        raise ModelLoadError(f"{loaded.path} holds no example inputs for {loaded.model_name}: pass --input "
                             f"SHAPE[:dtype] once per forward argument (e.g. --input 1x3x28x28)")
    if loaded.example_inputs is None:
        raise ModelLoadError(
            f"no example inputs for {loaded.model_name} in {loaded.path}: pass --input SHAPE[:dtype] "
            f"(e.g. --input 1x3x28x28) or define {' / '.join(INPUT_NAMES)} there"
        )
    return loaded.example_inputs


def load(path: str, options: LoadOptions = LoadOptions()) -> tuple[LoadedModel, ModelInputs]:
    """The model in ``path`` and the inputs it is traced and checked with (names and dynamic
    dims decided once, ``--static`` fixing every dim), as the CLI commands need them."""
    loaded = load_model_file(path, options.model_name, options.weights, options.trust_pickle, options.task)
    examples = resolve_inputs(loaded, options.input_specs)
    dims = resolve_dynamic_dims(loaded, options.input_specs, options.dynamic_specs)
    return loaded, inferred_inputs(loaded.model, examples, None if options.static else dims,
                                   dynamic_batch=not options.static)
