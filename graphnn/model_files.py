"""Which files of a folder are MODEL_PY files, one rule for ``graphnn check models/`` and
the pytest plugin (``--graphnn-models models/``): every ``.py`` file below it, except
``conftest.py`` and private helpers (``_layers.py``, ``__init__.py``), outside hidden
folders and ``__pycache__``. Imports nothing heavy: the plugin loads in every pytest run."""
from __future__ import annotations

import os
from pathlib import Path


def is_model_file(path: Path) -> bool:
    return path.suffix == ".py" and path.name != "conftest.py" and not path.name.startswith("_")


def model_files(path: str) -> list[str]:
    """``path`` itself when it is a file, else its model files in sorted order."""
    if not os.path.isdir(path) or os.path.isfile(os.path.join(path, "config.json")):
        return [path]  # a file, or a checkpoint folder (save_pretrained): one model
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [os.path.join(folder, f) for f in sorted(files) if is_model_file(Path(f))]
    return found
