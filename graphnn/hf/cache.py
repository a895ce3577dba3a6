"""transformers' KV caches as flat, named tensors.

torch.export only flattens inputs and outputs it knows as pytree nodes, and transformers
(5.23) does not register its cache classes: a causal LM with ``use_cache=True`` (every
default config) fails with "Found DynamicCache in output". ``register_cache_pytrees``
registers every cache and cache-layer class of ``transformers.cache_utils``: its tensors
(and sub-caches, layers) are the children, its other attributes the context, and a cache
is rebuilt by setting them back on a bare instance, so the frontend's graph outputs (IR
values, not tensors) unflatten into the same classes the model returned.

``cache_tensors`` names a cache's tensors as optimum and onnxruntime-genai do:
``present.{i}.key`` / ``present.{i}.value`` (``present.{i}.decoder.key``,
``present.{i}.encoder.key`` for an ``EncoderDecoderCache``); the same for the legacy tuples
of per-layer ``(key, value)`` a model returns as ``past_key_values``.
"""
from __future__ import annotations

import inspect
import re
import sys
from typing import Any, Optional

import torch
import torch.utils._pytree as pytree

CACHE_FIELD = "past_key_values"  # the ModelOutput field (and forward argument) holding the cache
# transformers 5.25 renamed the forward argument and the output field to ``cache`` (past_key_values
# stays a deprecated alias until 5.40); the flat inputs keep optimum's names either way
CACHE_KEYWORDS = (CACHE_FIELD, "cache")
_SUBCACHES = (("self_attention_cache", "decoder"), ("cross_attention_cache", "encoder"))


def register_cache_pytrees() -> None:
    """Make transformers' caches pytree nodes (once; a class someone registered already,
    transformers' own exporter for one, keeps its registration)."""
    cache_utils = _cache_utils()
    if cache_utils is None:
        return
    for base in (cache_utils.Cache, cache_utils.CacheLayerMixin):
        for cls in [base, *_subclasses(base)]:
            if cls not in pytree.SUPPORTED_NODES:
                pytree.register_pytree_node(cls, _flatten, _unflatter(cls), flatten_with_keys_fn=_flatten_with_keys,
                                            serialized_type_name=f"{cls.__module__}.{cls.__qualname__}")


def _cache_utils():
    """transformers.cache_utils when the model's code imported transformers, else None."""
    return sys.modules.get("transformers.cache_utils") if "transformers" in sys.modules else None


def _subclasses(cls: type) -> list[type]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_subclasses(child))]


def _flatten(obj: Any) -> tuple[list, tuple]:
    """Children: the attributes holding tensors, caches or lists of layers; context: the
    names of those and every other attribute as it is."""
    state = vars(obj)
    names = tuple(name for name, value in state.items() if _holds_tensors(value))
    rest = tuple((name, value) for name, value in state.items() if name not in names)
    return [state[name] for name in names], (names, rest)


def _flatten_with_keys(obj: Any) -> tuple[list, tuple]:
    """``_flatten`` with each child's attribute name (inputs are matched to their dynamic
    dims by these paths)."""
    children, context = _flatten(obj)
    return [(pytree.GetAttrKey(name), child) for name, child in zip(context[0], children)], context


def _unflatter(cls: type):
    def unflatten(children: list, context: tuple) -> Any:
        names, rest = context
        obj = cls.__new__(cls)
        obj.__dict__.update(rest)
        obj.__dict__.update(zip(names, children))
        return obj
    return unflatten


def _holds_tensors(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_holds_tensors(item) for item in value)
    return isinstance(value, torch.Tensor) or type(value) in pytree.SUPPORTED_NODES and not isinstance(
        value, (dict, list, tuple)) and value is not None


def cache_tensors(obj: Any, prefix: str = "present") -> Optional[list[tuple[str, Any]]]:
    """``[("present.0.key", k0), ("present.0.value", v0), ...]`` for a transformers cache
    (its tensors may be IR values while tracing), None for anything else."""
    cache_utils = _cache_utils()
    if cache_utils is None or not isinstance(obj, cache_utils.Cache):
        return None
    parts = [(getattr(obj, name), f".{part}") for name, part in _SUBCACHES if hasattr(obj, name)]
    named = []
    for cache, part in parts or [(obj, "")]:
        for i, layer in enumerate(cache.layers):
            named += [(f"{prefix}.{i}{part}.key", layer.keys), (f"{prefix}.{i}{part}.value", layer.values)]
    return named


def legacy_cache_tensors(obj: Any, prefix: str = "present") -> Optional[list[tuple[str, Any]]]:
    """The same names for a legacy cache, a tuple of per-layer ``(key, value)`` pairs
    (``(key, value, cross key, cross value)`` for encoder-decoders); None for anything else."""
    if not isinstance(obj, (tuple, list)) or not obj or not all(
            isinstance(layer, (tuple, list)) and len(layer) in (2, 4) for layer in obj):
        return None
    named = []
    for i, layer in enumerate(obj):
        own = f"{prefix}.{i}.decoder" if len(layer) == 4 else f"{prefix}.{i}"
        names = (f"{own}.key", f"{own}.value", f"{prefix}.{i}.encoder.key", f"{prefix}.{i}.encoder.value")
        named += list(zip(names, layer))
    return named


# ------------------------------------------------------------------ a cache as inputs
PAST = "past_sequence_length"
TOTAL = "total_sequence_length"  # the attention mask's length: past + new tokens
LM_DIMS = {"input_ids": {0: "batch", 1: "sequence_length"}, "attention_mask": {0: "batch", 1: TOTAL},
           "position_ids": {0: "batch", 1: "sequence_length"}}
# past_key_values.{i}.key, or an encoder-decoder cache's past_key_values.{i}.decoder.key / .encoder.key
_FLAT_INPUT = re.compile(rf"^{CACHE_FIELD}\.(\d+)\.(?:(decoder|encoder)\.)?(key|value)$")
ENCODER_SEQ = "encoder_sequence_length"  # the cross-attention keys' length: the encoder input's


def is_cache_input(value: Any) -> bool:
    return cache_tensors(value) is not None or legacy_cache_tensors(value) is not None


def flat_cache_items(items: list[tuple]) -> list[tuple]:
    """``(name, example, keyword)`` items with a cache example replaced by one item per
    tensor, ``past_key_values.{i}.key`` / ``.value`` (the names optimum gives them;
    ``past_key_values.{i}.decoder.key`` / ``.encoder.key`` for an ``EncoderDecoderCache``)."""
    flat = []
    for name, example, keyword in items:
        tensors = cache_tensors(example, CACHE_FIELD) or legacy_cache_tensors(example, CACHE_FIELD)
        if name not in CACHE_KEYWORDS or tensors is None:
            flat.append((name, example, keyword))
            continue
        flat += [(n, t, True) for n, t in tensors]
    return flat


def cache_dims(items: list[tuple]) -> Optional[list[dict]]:
    """With a cache among the inputs, the dims every KV-cache decoder file has: ``batch``,
    ``sequence_length`` (new tokens), ``past_sequence_length`` (cached ones) and the mask's
    ``total_sequence_length``; None without a cache (the usual defaults then)."""
    if not any(_FLAT_INPUT.match(name) for name, _, _ in items):
        return None
    return [_flat_dims(name) if _FLAT_INPUT.match(name) else LM_DIMS.get(name, {0: "batch"})
            for name, _, _ in items]


def _flat_dims(name: str) -> dict:
    """A cache tensor's dims: the cross-attention's span the encoder input, the rest the past."""
    return {0: "batch", 2: ENCODER_SEQ if _FLAT_INPUT.match(name).group(2) == "encoder" else PAST}


def dim_relations(symbols) -> dict[str, str]:
    """The mask spans the past and the new tokens: shape rules may meet it either way
    (``ops/dims.py``)."""
    if {PAST, "sequence_length", TOTAL} <= set(symbols):
        return {TOTAL: f"{PAST}+sequence_length"}
    return {}


def with_derived_sizes(plan: dict[str, int]) -> dict[str, int]:
    """Parity's sizes with the mask spanning the past and the new tokens."""
    if {PAST, "sequence_length", TOTAL} <= set(plan):
        return {**plan, TOTAL: plan[PAST] + plan["sequence_length"]}
    return plan


def bound_name(name: str, keyword: str = CACHE_FIELD) -> str:
    """The forward parameter an input binds to: ``keyword`` (``cache_keyword(model)``) for
    the flat cache tensors."""
    return keyword if _FLAT_INPUT.match(name) else name


def cache_keyword(model: Any) -> str:
    """The forward argument a cache binds to: ``cache`` where the forward names it so
    (transformers >= 5.25, whose ``past_key_values`` goes through **kwargs, which
    torch.export's dynamic shapes cannot name), else ``past_key_values``."""
    try:
        params = inspect.signature(model.forward).parameters
    except (AttributeError, TypeError, ValueError):
        return CACHE_FIELD
    return next((name for name in CACHE_KEYWORDS if name in params), CACHE_FIELD)


def grouped_cache(kwargs: dict, keyword: str = CACHE_FIELD) -> dict:
    """Keyword arguments with the flat cache tensors put back into one ``DynamicCache``
    (an ``EncoderDecoderCache`` of two for ``.decoder`` / ``.encoder`` names) under
    ``keyword`` (``cache_keyword(model)``), where the first of them stood."""
    flat = {name: value for name, value in kwargs.items() if _FLAT_INPUT.match(name)}
    if not flat:
        return kwargs
    from transformers import DynamicCache, EncoderDecoderCache
    if any(_FLAT_INPUT.match(name).group(2) for name in flat):
        cache = EncoderDecoderCache(*(DynamicCache(ddp_cache_data=_layer_pairs(flat, part))
                                      for part in ("decoder", "encoder")))  # self-attention first, as it flattens
    else:
        cache = DynamicCache(ddp_cache_data=_layer_pairs(flat, None))
    grouped = {}
    for name, value in kwargs.items():
        if name not in flat:
            grouped[name] = value
        elif keyword not in grouped:
            grouped[keyword] = cache
    return grouped


def _layer_pairs(flat: dict, part: Optional[str]) -> list[tuple]:
    """``[(key 0, value 0), ...]`` of the flat tensors of one (sub)cache."""
    layers = sum(1 for name in flat if _FLAT_INPUT.match(name).group(2) == part) // 2
    own = [f"{CACHE_FIELD}.{i}" + ("" if part is None else f".{part}") for i in range(layers)]
    return [(flat[f"{name}.key"], flat[f"{name}.value"]) for name in own]


def cache_dynamic_shapes(cache: Any, spec_of) -> Any:
    """torch.export's ``dynamic_shapes`` for a cache: the nesting of its pytree children,
    ``spec_of(tensor index)`` at each tensor (caches, layers and lists all nest)."""
    counter = iter(range(1 << 30))

    def walk(obj):
        if isinstance(obj, torch.Tensor):
            return spec_of(next(counter))
        children, _ = pytree.SUPPORTED_NODES[type(obj)].flatten_fn(obj)
        return [walk(child) for child in children]
    return walk(cache)
