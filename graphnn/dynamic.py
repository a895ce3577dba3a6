"""Dynamic dims inferred from torch itself, when the user names none.

A guess from shapes alone ("dim 0 of the first input is the batch") misses a loss's class
index target, puts a GRU's ``h0`` batch in the wrong dim and calls a sequence-first
model's sequence ``batch``. So the guess asks torch twice: the recurrent layers say where
their batch is (``batch_first``, and dim 1 of the states they are given), and the model is
run once at another batch size; a dim torch cannot run with is kept static, and the note
says which dims are dynamic and which were kept static, and why.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any, Optional

import torch

from graphnn.hf.cache import bound_name
from graphnn.inputs import ModelInputs, model_inputs
from graphnn.modes import eval_mode

SYMBOL = "batch"
MAX_RUNS = 8  # torch runs spent looking for the dims that survive a second size


@dataclass(frozen=True)
class RecurrentCall:
    """A recurrent layer's call at the example: its batch size, where its input holds the
    batch, and which model inputs it was given as states (their batch is dim 1)."""

    layer: str  # "nn.LSTM lstm"
    batch: int
    axis: Optional[int]  # the batch's dim in the layer's input: 0 when batch_first, else 1; None: packed
    states: tuple  # indices of the model inputs passed as h0 / (h0, c0)


def inferred_inputs(model: torch.nn.Module, example_inputs: Any, dynamic_dims: Any = None,
                    dynamic_batch: bool = True, where: str = "example_inputs") -> ModelInputs:
    """``inputs.model_inputs``, with the default dynamic dims proposed and confirmed by
    torch; dims the user named (``dynamic_dims``, or none with ``dynamic_batch=False``) as given."""
    if isinstance(example_inputs, ModelInputs) or dynamic_dims is not None or not dynamic_batch:
        return model_inputs(model, example_inputs, dynamic_dims, dynamic_batch, where)
    defaults = model_inputs(model, example_inputs, None, True, where)
    if any(bound_name(item.name) != item.name for item in defaults.items):
        return defaults  # a KV-cache decoder: its dims are the convention's (batch, past, new, total)
    return confirmed(model, model_inputs(model, example_inputs, None, False, where))


def confirmed(model: torch.nn.Module, inputs: ModelInputs) -> ModelInputs:
    """``inputs`` (static) with the batch dims that torch runs at a second size too."""
    calls = recurrent_calls(model, inputs)
    batch, axis = example_batch(inputs, calls)
    proposed = proposals(inputs, calls, batch, axis)
    if not proposed:
        return inputs
    kept, failure = surviving(model, inputs, proposed, batch + 1)
    if kept != proposed and _problem_at(model, inputs, [], batch):  # it fails at its own example:
        return inputs.with_dims(_per_input(inputs, proposed))  # the guess; tracing says what is wrong
    dims = _per_input(inputs, kept)
    note = "" if kept == proposed and _usual(inputs, kept) else _note(
        inputs, proposed, kept, batch + 1, failure, calls[0] if axis == 1 else None)
    return replace(inputs.with_dims(dims), note=note)


def _usual(inputs: ModelInputs, kept: list[tuple]) -> bool:
    """Whether the dynamic dims are the ones everybody expects (dim 0 of inputs of rank >= 2):
    then no note."""
    return all(dim == 0 and inputs.items[index].example.dim() >= 2 for index, dim in kept)


def recurrent_calls(model: torch.nn.Module, inputs: ModelInputs) -> list[RecurrentCall]:
    """What each nn.RNN / LSTM / GRU call saw at the example (one hooked eager run, made only
    when the model holds one); [] when the model fails at its own example (tracing says why)."""
    layers = {module: path for path, module in model.named_modules() if isinstance(module, torch.nn.RNNBase)}
    if not layers:
        return []
    calls: list[RecurrentCall] = []
    given = [t.clone() for t in inputs.tensors]  # the run's own inputs: states are found among them

    def seen(module, args, kwargs):
        call = _recurrent_call(f"nn.{type(module).__name__} {layers[module] or 'model'}", module, args, kwargs, given)
        if call:
            calls.append(call)

    handles = [layer.register_forward_pre_hook(seen, with_kwargs=True) for layer in layers]
    try:
        with eval_mode(model), torch.no_grad():
            inputs.call(model, given)
    except Exception:  # noqa: BLE001 (the model fails at its own example: tracing reports it)
        return []
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _recurrent_call(layer: str, module: torch.nn.RNNBase, args: tuple, kwargs: dict,
                    model_inputs: list) -> Optional[RecurrentCall]:
    sequence = args[0] if args else kwargs.get("input")
    if isinstance(sequence, torch.nn.utils.rnn.PackedSequence):  # its batch is known, its layout was the packing's
        batch, axis = int(sequence.batch_sizes[0]), None
    elif isinstance(sequence, torch.Tensor) and sequence.dim() == 3:  # not unbatched
        axis = 0 if module.batch_first else 1
        batch = int(sequence.shape[axis])
    else:
        return None
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    states = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
    indices = tuple(i for i, t in enumerate(model_inputs) if any(t is state for state in states))
    return RecurrentCall(layer, batch, axis, indices)


def example_batch(inputs: ModelInputs, calls: list[RecurrentCall]) -> tuple[Optional[int], int]:
    """The example's batch size and the dim that holds it in the inputs: dim 0 of a first
    input of rank >= 2, unless the first recurrent layer is sequence-first (or packed, from
    either layout) and finds its batch in dim 1 of that input instead."""
    first = inputs.items[0].example if inputs.items else None
    if first is None or first.dim() < 2:
        return None, 0
    batch = int(first.shape[0])
    if calls and calls[0].axis in (1, None) and calls[0].batch != batch and int(first.shape[1]) == calls[0].batch:
        return calls[0].batch, 1
    return batch, 0


def proposals(inputs: ModelInputs, calls: list[RecurrentCall], batch: Optional[int], axis: int) -> list[tuple]:
    """(input index, dim) of every dim proposed as the batch: dim 1 of a recurrent state,
    dim 0 of a 1-d input (a packed sequence's lengths), else the batch's dim of every input
    whose size there is the example's batch."""
    if batch is None:
        return []
    states = {index for call in calls for index in call.states}
    found = []
    for index, item in enumerate(inputs.items):
        example = item.example
        dim = 1 if index in states and example.dim() == 3 else 0 if example.dim() == 1 else axis  # lengths
        if example.dim() > dim and int(example.shape[dim]) == batch:
            found.append((index, dim))
    return found


def surviving(model: torch.nn.Module, inputs: ModelInputs, proposed: list[tuple],
              size: int) -> tuple[list[tuple], str]:
    """The largest set of proposed dims torch runs with at ``size`` (all of them, when it
    can), and why torch refused the whole set ("" when it did not)."""
    failure = ""
    runs = 0
    for count in range(len(proposed), 0, -1):
        for subset in combinations(proposed, count):
            if runs == MAX_RUNS:
                return [], failure
            runs += 1
            problem = _problem_at(model, inputs, list(subset), size)
            if not problem:
                return list(subset), failure
            failure = failure or problem
    return [], failure


def _problem_at(model: torch.nn.Module, inputs: ModelInputs, dims: list[tuple], size: int) -> str:
    """Why the model fails with ``dims`` at ``size`` (the first line of torch's error); ""
    when it runs."""
    resized = inputs.with_dims(_per_input(inputs, dims)).resized({SYMBOL: size}, torch.Generator().manual_seed(0))
    try:
        _run(model, inputs, resized)
    except Exception as exc:  # noqa: BLE001 (any failure means: this dim is not free)
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ""


def _per_input(inputs: ModelInputs, dims: list[tuple]) -> list[tuple]:
    """(input index, dim) pairs as one ``((dim, "batch"), ...)`` per input."""
    return [tuple((dim, SYMBOL) for index, dim in dims if index == i) for i in range(len(inputs.items))]


def _run(model: torch.nn.Module, inputs: ModelInputs, tensors: list) -> Any:
    with eval_mode(model), torch.no_grad():
        return inputs.call(model, [t.clone() for t in tensors])


def _note(inputs: ModelInputs, proposed: list[tuple], kept: list[tuple], size: int, failure: str,
          sequence_first: Optional[RecurrentCall]) -> str:
    """``dynamic dims: batch = x dim 0, target dim 0 (torch runs at batch 5 too); kept static: ...``"""
    named = lambda dims: ", ".join(f"{inputs.items[index].name} dim {dim}" for index, dim in dims)  # noqa: E731
    parts = []
    if kept:
        why = f"the batch of sequence-first {sequence_first.layer}; " if sequence_first else ""
        parts.append(f"dynamic dims: {SYMBOL} = {named(kept)} ({why}torch runs at {SYMBOL} {size} too)")
    static = [dim for dim in proposed if dim not in kept]
    if static:
        parts.append(f"kept static: {named(static)} (torch fails at {SYMBOL} {size}: {failure[:120]}); "
                     f"name dynamic dims with --dynamic / dynamic_dims")
    return "; ".join(parts)
