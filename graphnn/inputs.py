"""Example inputs: ``--input 1x3x28x28[:dtype]`` specs, and random inputs at another
batch size for parity (a batch of 1 hides batch bugs, so parity always tries a second)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

import torch

from graphnn.hf.cache import cache_dims, cache_keyword, flat_cache_items, grouped_cache, is_cache_input
from graphnn.errors import InputSpecError
from graphnn.tensors import dtype_name, dtype_names, torch_dtype

_SPEC = re.compile(r"^\s*(?:(?P<name>[A-Za-z_]\w*)\s*=)?\s*(?P<dims>\d+(?:\s*x\s*\d+)*)?\s*(?::\s*(?P<dtype>\w+))?\s*$")
INT_HIGH = 10  # random integer inputs are drawn from [0, INT_HIGH) unless examples say otherwise


@dataclass(frozen=True)
class InputSpec:
    shape: tuple
    dtype: str = "float32"
    name: Optional[str] = None  # input_ids=2x16:int64 passes it by keyword

    def __str__(self) -> str:
        prefix = f"{self.name}=" if self.name else ""
        return prefix + "x".join(map(str, self.shape)) + f":{self.dtype}"


def parse_input_spec(text: str) -> InputSpec:
    """``1x3x28x28``, ``4x20:int64``, ``:float32`` (a scalar), ``input_ids=2x16:int64`` (by name)."""
    match = _SPEC.match(text)
    if not match or (match["dims"] is None and match["dtype"] is None):
        raise InputSpecError(
            f"bad --input {text!r}: write the shape as dims joined by 'x' and an optional "
            f"dtype, e.g. 1x3x28x28 or 4x20:int64, optionally after NAME= (input_ids=2x16:int64)"
        )
    dtype = match["dtype"] or "float32"
    if dtype not in dtype_names():
        raise InputSpecError(f"bad --input {text!r}: unknown dtype {dtype!r} (use one of {', '.join(dtype_names())})")
    dims = tuple(int(d) for d in re.split(r"\s*x\s*", match["dims"])) if match["dims"] else ()
    return InputSpec(dims, dtype, match["name"])


def random_tensor(shape: Sequence[int], dtype: str, generator: torch.Generator,
                  low: int = 0, high: int = INT_HIGH) -> torch.Tensor:
    t = torch_dtype(dtype)
    if t.is_floating_point:
        return torch.randn(tuple(shape), generator=generator).to(t)
    if t == torch.bool:
        return torch.randint(0, 2, tuple(shape), generator=generator).bool()
    return torch.randint(low, high, tuple(shape), generator=generator, dtype=t)


def inputs_from_specs(specs: Sequence[InputSpec], seed: int = 0) -> Any:
    """A tuple of random tensors, or a dict by name when the specs name their inputs."""
    generator = torch.Generator().manual_seed(seed)
    named = [s.name is not None for s in specs]
    if any(named) and not all(named):
        raise InputSpecError("name every --input (input_ids=2x16:int64) or none of them")
    tensors = [random_tensor(s.shape, s.dtype, generator) for s in specs]
    if all(named) and specs:
        if len({s.name for s in specs}) != len(specs):
            raise InputSpecError("two --input specs name the same input")
        return {s.name: t for s, t in zip(specs, tensors)}
    return tuple(tensors)


def with_batch(example: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A random tensor like ``example`` with dim 0 = batch (values valid as ``like`` says)."""
    return like(example, (batch,) + tuple(example.shape[1:]), generator)


def normalize_example_inputs(value: Any, where: str) -> tuple:
    """A tensor, or a tuple/list of tensors, as a tuple of tensors."""
    items = (value,) if isinstance(value, torch.Tensor) else value
    if isinstance(items, (tuple, list)) and any(t is None for t in items):
        raise InputSpecError(f"{where} holds None: skip an optional input by passing the others by name, "
                             f"as a dict {{'x': x, 'attn_mask': mask}}")
    if not isinstance(items, (tuple, list)) or not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise InputSpecError(
            f"{where} must be a tensor or a tuple of tensors (got {type(value).__name__}); "
            f"or pass --input SHAPE[:dtype]"
        )
    return tuple(items)


# ------------------------------------------------------------------ model inputs
@dataclass(frozen=True)
class TraceInput:
    """One forward argument: the parameter it binds to (also its IR and ONNX input name),
    an example tensor, and which of its dims are dynamic (dim index -> symbol name)."""

    name: str
    example: torch.Tensor
    dims: tuple = ()  # ((dim index, symbol), ...)
    keyword: bool = False  # passed as name=tensor (transformers' input_ids=...)

    def shape(self) -> tuple:
        """The IR shape: symbols where dims are dynamic."""
        shape = list(self.example.shape)
        for index, symbol in self.dims:
            shape[index] = symbol
        return tuple(shape)


@dataclass(frozen=True)
class ModelInputs:
    """The inputs a model is traced and checked with, in forward-signature order. Both
    frontends and parity read them, so names and dynamic dims are decided once."""

    items: tuple
    note: str = ""  # how the dynamic dims were decided, when torch was asked (``dynamic``)

    @property
    def tensors(self) -> tuple:
        return tuple(item.example for item in self.items)

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.items]

    @property
    def symbols(self) -> dict[str, int]:
        """Each dynamic dim's symbol and its size in the example."""
        return {symbol: int(item.example.shape[index]) for item in self.items for index, symbol in item.dims}

    def call(self, model: torch.nn.Module, tensors: Optional[Sequence[torch.Tensor]] = None) -> Any:
        """``model(...)`` on these inputs (or on ``tensors`` in their place), keywords as keywords."""
        tensors = self.tensors if tensors is None else tensors
        args = [t for item, t in zip(self.items, tensors) if not item.keyword]
        kwargs = {item.name: t for item, t in zip(self.items, tensors) if item.keyword}
        return model(*args, **grouped_cache(kwargs, cache_keyword(model)))

    def with_examples(self, tensors: Sequence[torch.Tensor]) -> "ModelInputs":
        return ModelInputs(tuple(replace(item, example=t) for item, t in zip(self.items, tensors)))

    def with_dims(self, dims: Sequence[tuple]) -> "ModelInputs":
        return ModelInputs(tuple(replace(item, dims=tuple(d)) for item, d in zip(self.items, dims)))

    def without_size_one(self) -> "ModelInputs":
        """These inputs with every dynamic dim of size 1 at 2, re-drawn as parity draws them:
        a trace at 1 cannot tell the batch from a constant 1 (torch.export specializes it)."""
        sizes = {symbol: 2 if size == 1 else size for symbol, size in self.symbols.items()}
        if sizes == self.symbols:
            return self
        return self.with_examples(self.resized(sizes, torch.Generator().manual_seed(0)))

    def resized(self, sizes: dict[str, int], generator: torch.Generator) -> list[torch.Tensor]:
        """Random inputs like the examples with each dynamic dim set to ``sizes[symbol]``;
        an input without dynamic dims is the example itself."""
        out = []
        for item in self.items:
            if not item.dims:
                out.append(item.example)
                continue
            shape = list(item.example.shape)
            for index, symbol in item.dims:
                shape[index] = sizes[symbol]
            out.append(like(item.example, shape, generator))
        return out


def like(example: torch.Tensor, shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
    """A random tensor of ``shape`` whose values are valid wherever the example's are:
    integers stay in the example's range (indices into an embedding, 0/1 masks) and rising
    where the example rises (offsets, position ids), floats stay in [0, 1) when the example
    lies there (probabilities for BCELoss)."""
    shape = tuple(shape)
    if example.numel() == 0 or example.dtype == torch.bool:
        return random_tensor(shape, dtype_name(example.dtype), generator)
    low, high = example.min(), example.max()
    if example.dtype.is_floating_point:
        if low >= 0 and high <= 1:
            return torch.rand(shape, generator=generator).to(example.dtype)
        return random_tensor(shape, dtype_name(example.dtype), generator)
    values = torch.randint(int(low), int(high) + 1, shape, generator=generator, dtype=example.dtype)
    return _monotonic_like(example, values)


def _monotonic_like(example: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Integers that rise along the last dim in the example (EmbeddingBag offsets, position
    ids) rise in the random input too, and start where the example starts (offsets at 0)."""
    if example.dim() == 0 or example.shape[-1] < 2 or values.dim() == 0 or values.shape[-1] < 1:
        return values
    if not bool((example[..., 1:] >= example[..., :-1]).all()):
        return values
    values = values.sort(dim=-1).values
    values[..., 0] = example.reshape(-1, example.shape[-1])[0, 0]
    return values.sort(dim=-1).values


def model_inputs(model: torch.nn.Module, example_inputs: Any, dynamic_dims: Any = None,
                 dynamic_batch: bool = True, where: str = "example_inputs") -> ModelInputs:
    """Name the example inputs after forward's parameters and decide their dynamic dims.

    ``example_inputs``: a tensor, a tuple of tensors (positional), or a dict of tensors by
    parameter name (keyword). ``dynamic_dims``: one ``{dim: symbol}`` per input (a list,
    or a dict by input name); without it, dim 0 of every input of rank >= 2 whose size is
    the first input's dim 0 is ``batch`` (unless ``dynamic_batch`` is False).
    """
    if isinstance(example_inputs, ModelInputs):
        return example_inputs
    items = flat_cache_items(_named(model, example_inputs, where))
    dynamic_dims = cache_dims(items) if dynamic_dims is None and dynamic_batch else dynamic_dims
    if dynamic_dims is not None:
        dims = _explicit_dims(items, dynamic_dims)
    elif dynamic_batch:
        dims = _batch_dims([t for _, t, _ in items])
    else:
        dims = [()] * len(items)
    inputs = ModelInputs(tuple(TraceInput(n, t, d, kw) for (n, t, kw), d in zip(items, dims)))
    _check_symbols(inputs)
    return inputs


def _forward_parameters(model: torch.nn.Module) -> list:
    import inspect
    try:
        return list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return []


def _named(model: torch.nn.Module, example_inputs: Any, where: str) -> list[tuple]:
    """[(name, tensor, keyword)] in forward-signature order."""
    params = _forward_parameters(model)
    if isinstance(example_inputs, dict):
        return _keyword_items(params, example_inputs, where)
    tensors = normalize_example_inputs(example_inputs, where)
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = positional[:len(tensors)]
    names += [f"input_{i}" for i in range(len(names), len(tensors))]  # forward(*args)
    return [(name, t, False) for name, t in zip(names, tensors)]


def _keyword_items(params: list, example_inputs: dict, where: str) -> list[tuple]:
    known = [p.name for p in params]
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
    for name, value in example_inputs.items():
        if not isinstance(value, torch.Tensor) and not is_cache_input(value):
            raise InputSpecError(f"{where}[{name!r}] must be a tensor (got {type(value).__name__})")
        if name not in known and not takes_kwargs:
            raise InputSpecError(f"{where}: the model's forward has no parameter {name!r} "
                                 f"(it takes {', '.join(known) or 'nothing'})")
    if not example_inputs:
        raise InputSpecError(f"{where} is an empty dict: give at least one input")
    order = {name: i for i, name in enumerate(known)}
    names = sorted(example_inputs, key=lambda n: order.get(n, len(order)))
    return [(name, example_inputs[name], True) for name in names]


def _batch_dims(tensors: Sequence[torch.Tensor]) -> list[tuple]:
    """The default: the first input's leading dim is ``batch`` in every input that shares it."""
    first = tensors[0] if tensors else None
    if first is None or first.dim() == 0:
        return [()] * len(tensors)
    batch = int(first.shape[0])
    return [((0, "batch"),) if t.dim() >= 2 and t.shape[0] == batch else () for t in tensors]


def _explicit_dims(items: list[tuple], dynamic_dims: Any) -> list[tuple]:
    names = [name for name, _, _ in items]
    if isinstance(dynamic_dims, dict):
        unknown = sorted(set(dynamic_dims) - set(names))
        if unknown:
            raise InputSpecError(f"dynamic dims name input {unknown[0]!r}, but the inputs are {', '.join(names)}")
        per_input = [dynamic_dims.get(name) for name in names]
    else:
        per_input = list(dynamic_dims)
        if len(per_input) > len(items):
            raise InputSpecError(f"{len(per_input)} dynamic dim specs for {len(items)} inputs")
        per_input += [None] * (len(items) - len(per_input))
    return [_dims_of(name, tensor, spec) for (name, tensor, _), spec in zip(items, per_input)]


def _dims_of(name: str, tensor: torch.Tensor, spec: Any) -> tuple:
    if not spec:
        return ()
    if not isinstance(spec, dict):
        raise InputSpecError(f"dynamic dims of {name!r} must be a dict like {{0: 'batch', 1: 'seq'}}, got {spec!r}")
    dims = []
    for index, symbol in spec.items():
        if not isinstance(index, int) or not -tensor.dim() <= index < tensor.dim():
            raise InputSpecError(f"dynamic dim {index!r} of {name!r} is out of range for its "
                                 f"{tensor.dim()}-d example {'x'.join(map(str, tensor.shape)) or 'scalar'}")
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            raise InputSpecError(f"dynamic dim {index} of {name!r} needs a name such as 'seq' (got {symbol!r})")
        dims.append((index % tensor.dim(), symbol))
    return tuple(sorted(dims))


def _check_symbols(inputs: ModelInputs) -> None:
    """One symbol is one size: ``seq`` cannot be 7 in one input and 5 in another."""
    seen: dict[str, tuple] = {}
    for item in inputs.items:
        for index, symbol in item.dims:
            size = int(item.example.shape[index])
            if symbol in seen and seen[symbol][0] != size:
                raise InputSpecError(
                    f"dynamic dim {symbol!r} is {seen[symbol][0]} in {seen[symbol][1]!r} but {size} in "
                    f"{item.name!r}: the examples must agree on each dynamic dim's size")
            seen.setdefault(symbol, (size, item.name))


_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_dynamic_spec(text: str) -> tuple[Optional[str], dict[int, str]]:
    """``0=seq,1=batch`` or ``attention_mask:1=seq`` (input name first); ``none`` for no dims."""
    name, _, body = text.rpartition(":") if ":" in text else (None, "", text)
    if body.strip().lower() in ("none", "static", ""):
        return name or None, {}
    dims = {}
    for part in body.split(","):
        index, eq, symbol = part.partition("=")
        if not eq or not index.strip().lstrip("-").isdigit() or not _SYMBOL.match(symbol.strip()):
            raise InputSpecError(
                f"bad --dynamic {text!r}: write DIM=NAME pairs joined by commas, e.g. 0=batch,1=seq "
                f"(optionally INPUT:0=batch for a named input), or 'none'")
        dims[int(index)] = symbol.strip()
    return name or None, dims
