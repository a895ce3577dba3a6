"""Example inputs: ``--input 1x3x28x28[:dtype]`` specs, and random inputs at another
batch size for parity (a batch of 1 hides batch bugs, so parity always tries a second)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from graphnn.errors import InputSpecError
from graphnn.tensors import dtype_name, dtype_names, torch_dtype

_SPEC = re.compile(r"^\s*(?P<dims>\d+(?:\s*x\s*\d+)*)?\s*(?::\s*(?P<dtype>\w+))?\s*$")
INT_HIGH = 10  # random integer inputs are drawn from [0, INT_HIGH) unless examples say otherwise


@dataclass(frozen=True)
class InputSpec:
    shape: tuple
    dtype: str = "float32"

    def __str__(self) -> str:
        return "x".join(map(str, self.shape)) + f":{self.dtype}"


def parse_input_spec(text: str) -> InputSpec:
    """``1x3x28x28``, ``4x20:int64``, ``:float32`` (a scalar)."""
    match = _SPEC.match(text)
    if not match or (match["dims"] is None and match["dtype"] is None):
        raise InputSpecError(
            f"bad --input {text!r}: write the shape as dims joined by 'x' and an optional "
            f"dtype, e.g. 1x3x28x28 or 4x20:int64"
        )
    dtype = match["dtype"] or "float32"
    if dtype not in dtype_names():
        raise InputSpecError(f"bad --input {text!r}: unknown dtype {dtype!r} (use one of {', '.join(dtype_names())})")
    dims = tuple(int(d) for d in re.split(r"\s*x\s*", match["dims"])) if match["dims"] else ()
    return InputSpec(dims, dtype)


def random_tensor(shape: Sequence[int], dtype: str, generator: torch.Generator,
                  low: int = 0, high: int = INT_HIGH) -> torch.Tensor:
    t = torch_dtype(dtype)
    if t.is_floating_point:
        return torch.randn(tuple(shape), generator=generator).to(t)
    if t == torch.bool:
        return torch.randint(0, 2, tuple(shape), generator=generator).bool()
    return torch.randint(low, high, tuple(shape), generator=generator, dtype=t)


def inputs_from_specs(specs: Sequence[InputSpec], seed: int = 0) -> tuple:
    generator = torch.Generator().manual_seed(seed)
    return tuple(random_tensor(s.shape, s.dtype, generator) for s in specs)


def with_batch(example: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A random tensor like ``example`` with dim 0 = batch; integer values stay within the
    example's range (indices into an embedding must stay valid)."""
    shape = (batch,) + tuple(example.shape[1:])
    if example.dtype.is_floating_point or example.dtype == torch.bool or example.numel() == 0:
        return random_tensor(shape, dtype_name(example.dtype), generator)
    low, high = int(example.min()), int(example.max()) + 1
    return torch.randint(low, high, shape, generator=generator, dtype=example.dtype)


def normalize_example_inputs(value: Any, where: str) -> tuple:
    """A tensor, or a tuple/list of tensors, as a tuple of tensors."""
    items = (value,) if isinstance(value, torch.Tensor) else value
    if not isinstance(items, (tuple, list)) or not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise InputSpecError(
            f"{where} must be a tensor or a tuple of tensors (got {type(value).__name__}); "
            f"or pass --input SHAPE[:dtype]"
        )
    return tuple(items)
