"""Files written whole or not at all: everything goes into a temporary folder beside the
target and is renamed into place, the named file last, so no reader ever sees half a file
(an ONNX model and its ``.data``, a picture, a page)."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable

from graphnn.errors import GraphnnError

Produce = Callable[[str], list]  # writes the file at the path given (and siblings); returns their names


def write_staged(path: str, produce: Produce) -> list[str]:
    """Call ``produce`` on a staging path named like ``path``, then move what it wrote beside
    ``path``; returns the final paths, ``path`` last. A folder that is missing is created."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".graphnn-", dir=folder)
    except OSError as exc:
        raise GraphnnError(f"cannot write {path}: {exc.strerror}") from None
    try:
        written = produce(os.path.join(staging, os.path.basename(path)))
        finals = []
        for name in sorted(written, key=lambda n: n == os.path.basename(path)):  # the named file last
            final = os.path.join(folder, name)
            os.chmod(os.path.join(staging, name), 0o666 & ~_umask())  # mkdtemp files are private
            os.replace(os.path.join(staging, name), final)
            finals.append(final)
        return finals
    except OSError as exc:
        raise GraphnnError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_bytes(path: str, data: bytes) -> str:
    """``data`` as the file ``path``, whole or not at all."""
    def produce(staged: str) -> list:
        with open(staged, "wb") as out:
            out.write(data)
        return [os.path.basename(staged)]

    return write_staged(path, produce)[-1]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
