"""A checkpoint folder (``save_pretrained``: config.json + safetensors weights) as a model
source: the model built offline by transformers' Auto class for the task, its example
inputs made by the task (``tasks.py``)."""
from __future__ import annotations

import glob
import os
from typing import Any, Optional

from graphnn.errors import InputSpecError, ModelLoadError
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
    examples = spec.inputs(model)
    return model, examples, spec.dynamic_dims(examples), task


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


def load_parts(path: str, loading: Any) -> Optional[list]:
    """The parts (``seq2seq_parts.Part``) of the folder ``path`` when its task (``loading.task``,
    a ``loader.LoadOptions``, or the one config.json names) writes several files; None for any
    other model source, which loads as one model."""
    if not is_checkpoint_folder(path):
        return None
    config = read_config(path)
    task = loading.task or (inferred_task(config) if config is not None else None)
    if task is None or TASKS[task].parts is None:
        return None
    if config is not None and not getattr(config, "is_encoder_decoder", False):
        raise ModelLoadError(f"--task {task} is for encoder-decoder models (T5, BART, Whisper); {path} holds "
                             f"{getattr(config, 'model_type', 'another kind of model')}, which is not one: "
                             f"pass --task text-generation-with-past for a decoder-only model")
    given = [flag for flag, value in (("--model", loading.model_name), ("--weights", loading.weights),
                                      ("--input", loading.input_specs), ("--dynamic", loading.dynamic_specs),
                                      ("--static", loading.static)) if value]
    if given:
        raise InputSpecError(f"{', '.join(given)}: not for --task {task}, whose inputs come from the task")
    model, task = folder_model(path, loading.task)
    return TASKS[task].parts(model)
