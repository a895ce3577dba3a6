"""Small helpers about tensors shared by the frontend, runtime and parity: dtype
names, and flattening a model's (possibly nested) outputs in one fixed order."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

# IR dtype names are numpy's; this is the one table that maps them to torch.
_TORCH_DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}
FLOAT_DTYPES = {"float32", "float64", "float16", "bfloat16"}


def dtype_name(dtype: torch.dtype) -> str:
    return _NAMES[dtype]


def torch_dtype(name: str) -> torch.dtype:
    return _TORCH_DTYPES[name]


def dtype_names() -> list[str]:
    return list(_TORCH_DTYPES)


def is_float(name: str) -> bool:
    return name in FLOAT_DTYPES


def flatten_outputs(obj: Any) -> list:
    """Leaves of nested tuples / lists / dicts, depth first, dict values in key order."""
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in flatten_outputs(item)]
    if isinstance(obj, dict):
        return [leaf for key in obj for leaf in flatten_outputs(obj[key])]
    return [obj]


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()
