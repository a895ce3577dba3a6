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

import sys
from typing import Any, Optional

import torch
import torch.utils._pytree as pytree

CACHE_FIELD = "past_key_values"  # the ModelOutput field (and forward argument) holding the cache
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
                pytree.register_pytree_node(cls, _flatten, _unflatter(cls),
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


def cache_tensors(obj: Any) -> Optional[list[tuple[str, Any]]]:
    """``[("present.0.key", k0), ("present.0.value", v0), ...]`` for a transformers cache
    (its tensors may be IR values while tracing), None for anything else."""
    cache_utils = _cache_utils()
    if cache_utils is None or not isinstance(obj, cache_utils.Cache):
        return None
    parts = [(getattr(obj, name), f".{part}") for name, part in _SUBCACHES if hasattr(obj, name)]
    named = []
    for cache, part in parts or [(obj, "")]:
        for i, layer in enumerate(cache.layers):
            named += [(f"present.{i}{part}.key", layer.keys), (f"present.{i}{part}.value", layer.values)]
    return named


def legacy_cache_tensors(obj: Any) -> Optional[list[tuple[str, Any]]]:
    """The same names for a legacy cache, a tuple of per-layer ``(key, value)`` pairs
    (``(key, value, cross key, cross value)`` for encoder-decoders); None for anything else."""
    if not isinstance(obj, (tuple, list)) or not obj or not all(
            isinstance(layer, (tuple, list)) and len(layer) in (2, 4) for layer in obj):
        return None
    named = []
    for i, layer in enumerate(obj):
        own = f"present.{i}.decoder" if len(layer) == 4 else f"present.{i}"
        names = (f"{own}.key", f"{own}.value", f"present.{i}.encoder.key", f"present.{i}.encoder.value")
        named += list(zip(names, layer))
    return named
