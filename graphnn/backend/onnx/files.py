"""ONNX models as files: atomic writes, and external data for models over 2 GB.

A protobuf message cannot be serialized past 2 GB, so a larger model keeps its weights in
``<name>.onnx.data`` beside ``<name>.onnx`` (ONNX external data), is checked from a file
(``check_model`` takes a path for those), and reaches onnxruntime as a path, not bytes.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Union

import onnx

from graphnn.errors import GraphnnError

LARGE_BYTES = 2_000_000_000  # initializer bytes past which a model is written with external data


def is_large(model: onnx.ModelProto) -> bool:
    return sum(len(t.raw_data) for t in model.graph.initializer) > LARGE_BYTES


def check(model: onnx.ModelProto) -> None:
    """``onnx.checker.check_model(full_check=True)``, from a temporary file when large."""
    if not is_large(model):
        onnx.checker.check_model(model, full_check=True)
        return
    with tempfile.TemporaryDirectory(prefix="graphnn-check-") as folder:
        path = os.path.join(folder, "model.onnx")
        _write(model, path)
        onnx.checker.check_model(path, full_check=True)


def runtime_source(model: onnx.ModelProto) -> Union[bytes, str]:
    """What onnxruntime.InferenceSession takes: bytes, or a file path for a large model
    (kept in a temporary folder until the process exits)."""
    if not is_large(model):
        return model.SerializeToString()
    folder = tempfile.mkdtemp(prefix="graphnn-run-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = os.path.join(folder, "model.onnx")
    _write(model, path)
    return path


def save_onnx(model: onnx.ModelProto, path: str) -> list[str]:
    """Write ``path`` (and ``path.data`` when large) atomically; returns the files written.

    Everything is written into a temporary folder beside ``path`` and renamed into place,
    the model file last, so no reader ever sees a half-written model.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".graphnn-", dir=folder)
    except OSError as exc:
        raise GraphnnError(f"cannot write {path}: {exc.strerror}") from None
    try:
        staged = os.path.join(staging, os.path.basename(path))
        written = _write(model, staged)
        finals = []
        for name in sorted(written, key=lambda n: n == os.path.basename(path)):  # model file last
            final = os.path.join(folder, name)
            os.chmod(os.path.join(staging, name), 0o666 & ~_umask())  # mkdtemp files are private
            os.replace(os.path.join(staging, name), final)
            finals.append(final)
        return finals
    except OSError as exc:
        raise GraphnnError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(model: onnx.ModelProto, path: str) -> list[str]:
    """Write one file, or the model plus ``<name>.data`` when large; returns the file names."""
    name = os.path.basename(path)
    if not is_large(model):
        with open(path, "wb") as handle:
            handle.write(model.SerializeToString())
        return [name]
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # saving with external data rewrites the tensors it moves out
    onnx.save_model(copy, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=f"{name}.data", size_threshold=1024)
    return [name, f"{name}.data"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
