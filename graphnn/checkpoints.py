"""Files ``torch.save`` wrote, as training scripts keep models: state dicts (``--weights``)
and whole pickled modules (``--trust-pickle``).

A state dict is read with ``torch.load(weights_only=True)`` (tensors and plain containers
only: no code runs) or from ``.safetensors``, always onto the CPU, unwrapped from the usual
training wrappers (``{"state_dict": ...}``, ``{"model": ...}``, DataParallel's ``module.`` and
torch.compile's ``_orig_mod.`` prefixes) and checked against the model before it is loaded,
so a checkpoint that does not fit is one message listing every difference, not a traceback.

A whole module (``torch.save(model)``) can only be unpickled by running code named in the
file, so it is refused unless the user says they trust it.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import sys
import types
import zipfile
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn

from graphnn.errors import ModelLoadError

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")  # {"state_dict": ..., "epoch": 3}
PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DistributedDataParallel, torch.compile
SHOWN = 4  # differences listed by name before "and N more"


class WeightsError(ModelLoadError):
    """A --weights file cannot be read, or does not fit the model."""


# ------------------------------------------------------------------ what a file holds
def is_torchscript(path: str) -> bool:
    """``torch.jit.save`` archives: a zip with TorchScript code and constants."""
    names = _zip_names(path)
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _zip_names(path: str) -> list[str]:
    if not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def refuse_torchscript(path: str, role: str) -> ModelLoadError:
    return ModelLoadError(
        f"{path} is a TorchScript archive (torch.jit.save): graphnn traces Python modules and cannot "
        f"re-trace TorchScript, so it is not accepted as {role}; {_TORCHSCRIPT_INSTEAD[role]}")


_TORCHSCRIPT_INSTEAD = {
    "MODEL_PY": "export from the model's code instead (MODEL_PY with --weights state_dict.pt) or from a "
                "torch.export program (torch.export.save -> .pt2)",
    "--weights": "save its weights as a state dict first: "
                 "torch.save(torch.jit.load(path).state_dict(), 'state_dict.pt')",
}


# ------------------------------------------------------------------ state dicts
def _read_torch(path: str) -> Any:
    if is_torchscript(path):
        raise refuse_torchscript(path, "--weights")
    if not _torch_saved(path):
        raise WeightsError(f"--weights {path} is not a PyTorch checkpoint (torch.save) nor a .safetensors file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _WEIGHTS_ONLY_REFUSED not in str(exc):
            raise WeightsError(f"--weights {path} is not a PyTorch checkpoint: {_first_line(exc)}") from None
        raise WeightsError(
            f"--weights {path} holds pickled Python objects, not only tensors (a whole model saved with "
            f"torch.save(model)?): pass such a file as MODEL_PY with --trust-pickle, or save "
            f"model.state_dict() and pass that with --weights") from None
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise WeightsError(f"--weights {path} is not a PyTorch checkpoint torch.load can read: "
                           f"{_first_line(exc)}") from None


def _read_safetensors(path: str) -> Any:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise WeightsError(f"--weights {path}: reading .safetensors needs the safetensors package "
                           f"(pip install 'graphnn[safetensors]')") from None
    try:
        return load_file(path, device="cpu")
    except Exception as exc:  # safetensors' own error types vary by version
        raise WeightsError(f"--weights {path} is not a safetensors file: {_first_line(exc)}") from None


_READERS: dict[str, Callable[[str], Any]] = {".safetensors": _read_safetensors}  # any other suffix: torch.load


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors by parameter name that ``path`` holds, on the CPU, unwrapped."""
    if not os.path.isfile(path):
        raise WeightsError(f"--weights {path} does not exist")
    content = _READERS.get(os.path.splitext(path)[1].lower(), _read_torch)(path)
    return unwrap(content, path)


def unwrap(content: Any, path: str) -> dict[str, torch.Tensor]:
    """A state dict from what training scripts save: the dict itself, or one inside
    ``{"state_dict": ...}`` / ``{"model": ...}`` next to optimizer state, epochs and metrics
    (a state dict's own values are tensors, never dicts, so a dict there is a wrapper's)."""
    while isinstance(content, Mapping):
        inner = next((content[k] for k in WRAPPER_KEYS if isinstance(content.get(k), Mapping)), None)
        if inner is not None:
            content = inner
        elif _is_state_dict(content):
            break
        else:
            keys = ", ".join(map(str, list(content)[:8])) or "nothing"
            raise WeightsError(f"--weights {path} holds a dict ({keys}) with no tensors by parameter name, nor "
                               f"one under {' / '.join(WRAPPER_KEYS)}: save model.state_dict()")
    if not isinstance(content, Mapping):
        raise WeightsError(f"--weights {path} holds a {type(content).__name__}, not a state dict: "
                           f"save model.state_dict()")
    return {k: v for k, v in content.items() if isinstance(v, torch.Tensor)}


def _is_state_dict(content: Mapping) -> bool:
    return bool(content) and any(isinstance(v, torch.Tensor) for v in content.values())


def strip_prefixes(state: dict[str, torch.Tensor], expected: set[str]) -> dict[str, torch.Tensor]:
    """Drop ``module.`` / ``_orig_mod.`` in front of every key while the model's own keys
    do not carry it (a model wrapped in DataParallel, compiled, or both); then any other
    leading name all keys share when dropping it gives exactly the model's keys (a training
    wrapper's attribute: Lightning's ``model.``)."""
    changed = True
    while changed and state:
        changed = False
        for prefix in PREFIXES:
            if all(k.startswith(prefix) for k in state) and not all(k.startswith(prefix) for k in expected):
                state = {k[len(prefix):]: v for k, v in state.items()}
                changed = True
    heads = {k.split(".", 1)[0] for k in state}
    if len(heads) == 1 and set(state) != expected and all("." in k for k in state):
        inner = {k.split(".", 1)[1]: v for k, v in state.items()}
        if set(inner) == expected:
            return inner
    return state


def differences(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Missing keys, unexpected keys and shape mismatches, each a short phrase."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} (checkpoint {_shape(state[k])}, model {_shape(own[k])})" for k in own
              if k in state and not _lazy(own[k]) and state[k].shape != own[k].shape]
    return [text for text in (_listed("missing key", missing), _listed("unexpected key", unexpected),
                              _listed("shape mismatch", shapes, "es")) if text]


def _listed(what: str, items: list[str], plural: str = "s") -> str:
    if not items:
        return ""
    shown = ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
    return f"{len(items)} {what}{plural if len(items) > 1 else ''}: {shown}"


def _lazy(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, nn.parameter.UninitializedTensorMixin)


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "scalar"


def load_weights(model: nn.Module, path: str) -> None:
    """Load the state dict in ``path`` into ``model`` (on the CPU), or say everything that
    does not fit; the model is untouched then."""
    state = read_state_dict(path)
    state = strip_prefixes(state, set(model.state_dict()))
    found = differences(model, state)
    if found:
        raise WeightsError(f"--weights {path} does not fit {type(model).__name__}: {'; '.join(found)}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # a layer's own _load_from_state_dict refused a tensor
        raise WeightsError(f"--weights {path} could not be loaded into {type(model).__name__}: "
                           f"{_first_line(exc)}") from None


# ------------------------------------------------------------------ whole pickled modules
class _Unimportable(Exception):
    def __init__(self, qualname: str, reason: BaseException):
        super().__init__(qualname)
        self.qualname, self.reason = qualname, reason


class _NamingUnpickler(pickle.Unpickler):
    """Says which class could not be imported (pickle's own errors name only the module
    or only the attribute)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            raise _Unimportable(f"{module}.{name}", exc) from None


_NAMING_PICKLE = types.SimpleNamespace(Unpickler=_NamingUnpickler, load=pickle.load, __name__="pickle")


def torch_file_kind(path: str) -> str:
    """What a torch.save / torch.jit.save file holds: ``torchscript``, ``weights`` (what
    ``torch.load(weights_only=True)`` reads: tensors and containers) or ``pickle`` (Python
    objects whose classes must be imported: a whole model)."""
    if is_torchscript(path):
        return "torchscript"
    if not _torch_saved(path):
        raise ModelLoadError(f"model file {path!r} is not a Python file (.py), a torch.export program (.pt2) "
                             f"nor a file torch.save wrote")
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _WEIGHTS_ONLY_REFUSED in str(exc):
            return "pickle"
        raise _foreign(path, exc) from None
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise _foreign(path, exc) from None
    return "weights"


def _foreign(path: str, exc: BaseException) -> ModelLoadError:
    return ModelLoadError(f"model file {path!r} is not a Python file (.py), a torch.export program (.pt2) "
                          f"nor a file torch.save wrote ({type(exc).__name__}: {_first_line(exc)})")


def _torch_saved(path: str) -> bool:
    """torch.save's zip (a ``data.pkl`` inside), or its legacy format (a pickle from byte 0)."""
    if zipfile.is_zipfile(path):
        return any(name.endswith("data.pkl") for name in _zip_names(path))
    with open(path, "rb") as handle:
        return handle.read(1) == pickle.PROTO


_WEIGHTS_ONLY_REFUSED = "Weights only load failed"  # torch's message when the file holds other objects


def refuse_pickle(path: str) -> ModelLoadError:
    return ModelLoadError(
        f"{path} is a pickled Python object (torch.save(model)): unpickling it runs code named in the file, "
        f"so graphnn does not load it by default; pass --trust-pickle if you trust where it came from, "
        f"or export from the model's code: MODEL_PY --weights state_dict.pt")


def load_pickled_module(path: str) -> nn.Module:
    """``torch.save(model)`` (or ``{"model": model, ...}``) loaded on the CPU; its classes
    are imported from the file's folder, the working directory and sys.path."""
    folders = [os.path.dirname(os.path.abspath(path)), os.getcwd()]
    try:
        with _on_path(folders), contextlib.redirect_stdout(sys.stderr):
            content = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_NAMING_PICKLE)
    except _Unimportable as exc:
        raise ModelLoadError(f"{path} holds a pickled {exc.qualname}, which cannot be imported "
                             f"({_first_line(exc.reason)}): {_import_hint(exc.qualname)}") from None
    except Exception as exc:
        raise ModelLoadError(f"{path} could not be unpickled: {type(exc).__name__}: {_first_line(exc)}") from None
    if isinstance(content, Mapping):
        content = next((v for v in content.values() if isinstance(v, nn.Module)), content)
    if not isinstance(content, nn.Module):
        raise ModelLoadError(f"{path} holds a pickled {type(content).__name__}, not an nn.Module")
    return content


def _import_hint(qualname: str) -> str:
    if qualname.startswith("__main__."):  # the class lived in the training script itself
        return ("it was defined in the script that saved it (__main__), which graphnn cannot import; "
                "save model.state_dict() instead and export with MODEL_PY --weights, MODEL_PY being "
                "a file that defines the class and builds the model")
    return "run graphnn where the module that defines it is importable (its folder, or PYTHONPATH)"


@contextlib.contextmanager
def _on_path(folders: list[str]):
    added = [f for f in dict.fromkeys(folders) if f not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            if folder in sys.path:
                sys.path.remove(folder)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
