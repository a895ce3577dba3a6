"""The token ids generation needs (end of sequence, padding, start), written into an exported
file's ``metadata_props`` so a lone ``.onnx`` file knows when a sequence ends: ``graphnn run
model.onnx --generate N`` and ``graphnn.generate`` read them back. Values are JSON (an eos may
be a list). Written for any model carrying a transformers ``generation_config`` (or a wrapper
holding one); other models' files get none."""
from __future__ import annotations

import json
from typing import Any, Optional

import onnx

GENERATION_IDS = ("eos_token_id", "pad_token_id", "bos_token_id", "decoder_start_token_id")


def generation_ids(model: Any) -> dict:
    """The ids the model's generation config (else its config) sets, by name; {} for a model
    that is not a transformers generator, or a wrapper around none."""
    holder = _generator(model)
    if holder is None:
        return {}
    configs = (holder.generation_config, getattr(holder, "config", None))
    found = {}
    for name in GENERATION_IDS:
        value = next((getattr(c, name) for c in configs if getattr(c, name, None) is not None), None)
        if value is not None:
            found[name] = value
    return found


def _generator(model: Any) -> Optional[Any]:
    """The model itself, or its first submodule, that carries a generation config."""
    modules = model.modules() if hasattr(model, "modules") else [model]
    return next((m for m in modules if getattr(m, "generation_config", None) is not None), None)


def add_generation_ids(onnx_model: onnx.ModelProto, model: Any) -> None:
    """Write ``model``'s generation ids into ``onnx_model.metadata_props`` (replacing older ones)."""
    ids = generation_ids(model)
    if not ids:
        return
    kept = [(p.key, p.value) for p in onnx_model.metadata_props if p.key not in GENERATION_IDS]
    del onnx_model.metadata_props[:]
    for key, value in kept + [(name, json.dumps(value)) for name, value in ids.items()]:
        onnx_model.metadata_props.add(key=key, value=value)


def read_generation_ids(onnx_model: onnx.ModelProto) -> dict:
    """The ids ``add_generation_ids`` wrote, by name ({} for a file from elsewhere)."""
    found = {}
    for prop in onnx_model.metadata_props:
        if prop.key in GENERATION_IDS:
            try:
                found[prop.key] = json.loads(prop.value)
            except ValueError:
                continue  # not ours: another tool's free text under the same key
    return found
