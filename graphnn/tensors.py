"""Small helpers about tensors shared by the frontend, runtime and parity: dtype
names, and flattening a model's (possibly nested) outputs in one fixed order."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from graphnn.hf.cache import CACHE_FIELD, cache_tensors, legacy_cache_tensors

# IR dtype names are numpy's; this is the one table that maps them to torch.
_TORCH_DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}
FLOAT_DTYPES = {"float32", "float64", "float16", "bfloat16"}
# Complex values live only between spectral ops (graphnn/ops/spectral.py): never a model
# input or output, so not among dtype_names() (what --input accepts).
COMPLEX_DTYPES = {"complex64": torch.complex64}


def dtype_name(dtype: torch.dtype) -> str:
    if dtype == torch.complex64:
        return "complex64"
    return _NAMES[dtype]


def torch_dtype(name: str) -> torch.dtype:
    return COMPLEX_DTYPES.get(name) or _TORCH_DTYPES[name]


def is_complex(name: str) -> bool:
    return name in COMPLEX_DTYPES


def dtype_names() -> list[str]:
    return list(_TORCH_DTYPES)


def is_float(name: str) -> bool:
    return name in FLOAT_DTYPES


def flatten_outputs(obj: Any) -> list:
    """Leaves of nested tuples / lists / dicts, depth first, dict values in key order;
    ``None`` entries (an optional output not computed) are dropped."""
    return [leaf for _, leaf in _leaves(obj, ())]


def named_outputs(obj: Any) -> list[tuple[str, Any]]:
    """``flatten_outputs`` with a name for each leaf, for the ONNX outputs: ``output`` for a
    lone tensor, ``output_0``, ``output_1``... for tuples, the key for dicts and
    ``ModelOutput``s (``logits``, ``last_hidden_state``), ``past_0_1`` below a key; a KV
    cache's tensors as ``present.{i}.key`` / ``present.{i}.value`` (``hf.cache``)."""
    leaves = _leaves(obj, ())
    if not any(isinstance(k, str) for path, _ in leaves for k in path):
        if len(leaves) == 1:
            return [("output", leaves[0][1])]
        return [(f"output_{i}", leaf) for i, (_, leaf) in enumerate(leaves)]
    names = []
    for path, leaf in leaves:
        if isinstance(path[-1], _FullName):
            names.append((str(path[-1]), leaf))
            continue
        name = "_".join(str(k) for k in path)
        names.append((name if isinstance(path[0], str) else f"output_{name}", leaf))
    return names


class _FullName(str):
    """A leaf's whole output name (a cache's ``present.0.key``), not one part of its path."""


def _leaves(obj: Any, path: tuple) -> list[tuple[tuple, Any]]:
    if obj is None:
        return []
    cache = cache_tensors(obj) or (legacy_cache_tensors(obj) if path[-1:] == (CACHE_FIELD,) else None)
    if cache is not None:
        return [((_FullName(name),), leaf) for name, leaf in cache if leaf is not None]
    if isinstance(obj, (tuple, list)):
        return [leaf for i, item in enumerate(obj) for leaf in _leaves(item, path + (i,))]
    if isinstance(obj, dict):
        return [leaf for key in obj for leaf in _leaves(obj[key], path + (str(key),))]
    return [(path, obj)]


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()
