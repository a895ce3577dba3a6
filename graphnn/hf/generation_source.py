"""The model ``check --generate`` decodes with, and its export into a temporary folder: a
checkpoint folder (its task from ``--task`` or config.json) or a MODEL_PY whose model is a
transformers generator (a causal LM exports ``text-generation-with-past``, an encoder-decoder
``text2text-generation-with-past``). Decoding needs the files of a generation task, so the
inputs come from the task, never from ``--input``."""
from __future__ import annotations

import os
from typing import Any

from graphnn import api
from graphnn.errors import InputSpecError, ModelLoadError
from graphnn.hf.folder import folder_model, is_checkpoint_folder
from graphnn.hf.folder_export import export_parts
from graphnn.hf.seq2seq import COPIED_FILES, TASK as SEQ2SEQ
from graphnn.hf.tasks import TASKS

GENERATION_TASKS = ("text-generation-with-past", "text-generation", SEQ2SEQ)
DECODER_FILE = "model.onnx"


def load_generator(path: str, loading: Any) -> tuple[Any, str]:
    """(model in eval mode, its generation task); ``loading`` a ``loader.LoadOptions``."""
    given = [flag for flag, value in (("--input", loading.input_specs), ("--dynamic", loading.dynamic_specs),
                                      ("--static", loading.static)) if value]
    if given:
        raise InputSpecError(f"{', '.join(given)}: not with --generate, which decodes from the task's inputs")
    if is_checkpoint_folder(path):
        model, task = folder_model(path, loading.task)
        source = f"{path} (--task {task})"
    else:
        from graphnn.loader import load_model_file
        loaded = load_model_file(path, loading.model_name, loading.weights, loading.trust_pickle, loading.task)
        model, source = loaded.model.eval(), f"{loaded.model_name} in {path}"
        task = SEQ2SEQ if getattr(getattr(model, "config", None), "is_encoder_decoder", False) \
            else "text-generation-with-past"
    if task not in GENERATION_TASKS or not callable(getattr(model, "generate", None)):
        raise ModelLoadError(f"--generate decodes with a language model (a transformers causal LM or "
                             f"encoder-decoder); {source} is {type(model).__name__}, which has no logits to "
                             f"decode from")
    return model, task


def export_for_generation(model: Any, task: str, source: str, out_dir: str, **options: Any) -> str:
    """Export ``model`` for ``task`` into ``out_dir`` (no parity check: the tokens are the check);
    the path that decodes (a file, or the folder of a task written as several files)."""
    spec = TASKS[task]
    options = {**options, "check": False}
    if spec.parts is not None:
        _, written = export_parts(spec.parts(model), out_dir, source, COPIED_FILES, **options)
        if not any(name == "config.json" for name in map(os.path.basename, written)):
            model.config.save_pretrained(out_dir)  # a MODEL_PY: the folder needs the ids generation reads
            model.generation_config.save_pretrained(out_dir)
        return out_dir
    if getattr(model, "config", None) is not None:
        model.config.use_cache = spec.use_cache  # what the folder loader sets: the cache out with past
    path = os.path.join(out_dir, DECODER_FILE)
    examples = spec.inputs(model)
    api.export(model, examples, path, dynamic_dims=spec.dynamic_dims(examples), **options)
    return path
