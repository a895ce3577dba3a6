"""Which layers to convert: all of them, unless parity says otherwise.

1. Convert every layer; within tolerance: done (one session).
2. Else measure each layer's error *alone* (only it converted). Past ``alone_budget`` layers,
   contiguous groups of layers are measured together and each member gets its group's error,
   so the sessions stay bounded on a ResNet-50 as on an MLP.
3. Keep the worst layers in float32, the k worst for k = 1, 2, 3, 4, 6, 8, 12, ... until the
   file is within tolerance (all kept is the float32 file, which is).

At most ``1 + alone_budget + ~2 log2(layers)`` sessions; every step is logged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import onnx

from graphnn.compress.layers import Layer
from graphnn.compress.measure import Error, Tolerance

ConvertOnly = Callable[[Sequence[Layer]], onnx.ModelProto]
Measure = Callable[[onnx.ModelProto], Error]
Log = Optional[Callable[[str], None]]
ALONE_BUDGET = 32


@dataclass
class Choice:
    model: onnx.ModelProto
    error: Error
    kept: list[tuple[Layer, Error]] = field(default_factory=list)  # each with its error alone
    sessions: int = 1
    passed: bool = True


def choose(layers: Sequence[Layer], convert_only: ConvertOnly, measure: Measure, tolerance: Tolerance,
           log: Log = None, alone_budget: int = ALONE_BUDGET) -> Choice:
    say = log or (lambda message: None)
    model = convert_only(layers)
    error = measure(model)
    say(f"all {len(layers)} layers converted: {error}")
    if error.within(tolerance) or not layers:
        return Choice(model, error, passed=error.within(tolerance))
    alone = errors_alone(layers, convert_only, measure, alone_budget, say)
    ranked = sorted(layers, key=lambda layer: _badness(alone[layer]), reverse=True)
    sessions = 1 + len({id(e) for e in alone.values()})
    for k in _steps(len(ranked)):
        kept = ranked[:k]
        model = convert_only(ranked[k:])
        error = measure(model)
        sessions += 1
        say(f"{k} layer(s) kept float32 (worst alone: {kept[-1].where}): {error}")
        if error.within(tolerance):
            break
    return Choice(model, error, [(layer, alone[layer]) for layer in kept], sessions, error.within(tolerance))


def errors_alone(layers: Sequence[Layer], convert_only: ConvertOnly, measure: Measure, budget: int,
                 say: Callable[[str], None]) -> dict[Layer, Error]:
    """Each layer's error with only it (or its group, past ``budget`` layers) converted."""
    groups = _groups(list(layers), budget)
    found: dict[Layer, Error] = {}
    for index, group in enumerate(groups, 1):
        error = measure(convert_only(group))
        for layer in group:
            found[layer] = error
        say(f"alone {index}/{len(groups)}: {group[0].where}{f' (+{len(group) - 1})' if len(group) > 1 else ''}: "
            f"{error}")
    return found


def _groups(layers: list[Layer], budget: int) -> list[list[Layer]]:
    size = max(1, -(-len(layers) // max(1, budget)))
    return [layers[i:i + size] for i in range(0, len(layers), size)]


def _badness(error: Error) -> tuple:
    """Worse first: a larger relative error (NaN / inf worst), then a lower top-1 agreement."""
    rel = error.rel if error.rel == error.rel else float("inf")
    return rel, -(error.top1 if error.top1 is not None else 1.0)


def _steps(count: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 12, 16, ... up to ``count`` (included)."""
    steps, k = [], 1
    while k < count:
        steps.append(k)
        k = k + 1 if k < 4 else k + k // 2
    return steps + [count]
