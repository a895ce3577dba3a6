"""A checkpoint folder (``save_pretrained``: config.json + safetensors weights) as a model
source: the model built offline by transformers' Auto class for the task, its example
inputs made by the task (``tasks.py``)."""
from __future__ import annotations

import glob
import os
from typing import Any, Optional

from graphnn.errors import ModelLoadError
from graphnn.hf.tasks import TASKS, inferred_task
from graphnn.progress import note

WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")


def is_checkpoint_folder(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json"))


def load_folder(path: str, task: Optional[str]) -> tuple[Any, dict, Optional[dict], str]:
    """(model in eval mode, example inputs by keyword, their dynamic dims, the task) for the
    folder ``path``."""
    model, task = folder_model(path, task)
    spec = TASKS[task]
    return model, spec.inputs(model), spec.dynamic_dims, task


def folder_model(path: str, task: Optional[str]) -> tuple[Any, str]:
    """(model in eval mode, the task) for the folder ``path``, the task inferred (and said on
    stderr) when not given."""
    if not any(glob.glob(os.path.join(path, pattern)) for pattern in WEIGHT_FILES):
        raise ModelLoadError(f"{path} holds config.json but no weights (*.safetensors): pass a folder "
                             f"written by save_pretrained")
    import transformers
    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    if task is None:
        task = inferred_task(config)
        if task is None:
            raise ModelLoadError(f"{path}: config.json names no architecture graphnn knows a task for; "
                                 f"pass --task ({', '.join(TASKS)})")
        note(f"task {task} (from {', '.join(config.architectures)} in {path}/config.json; --task to choose)")
    spec = TASKS[task]
    return _built(transformers, spec.auto_class, path, task, config, use_cache=spec.use_cache), task


def read_config(path: str) -> Optional[Any]:
    """The folder's transformers config, read quietly; None when it does not load (then
    ``folder_model`` says why)."""
    import transformers
    try:
        return transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError):
        return None


def _built(transformers: Any, auto_class: str, path: str, task: str, config: Any, use_cache: bool) -> Any:
    classes = (auto_class,) if isinstance(auto_class, str) else auto_class  # the first that fits
    for name in classes:
        try:
            return getattr(transformers, name).from_pretrained(path, local_files_only=True,
                                                               use_cache=use_cache).eval()
        except ValueError as exc:  # "Unrecognized configuration class ... for this kind of AutoModel"
            refusal = str(exc).splitlines()[0][:120]
    kind = getattr(config, "model_type", "this model")
    raise ModelLoadError(f"--task {task} does not fit {path} ({kind}: {refusal}); "
                         f"pass a task for its architecture ({', '.join(TASKS)})") from None
