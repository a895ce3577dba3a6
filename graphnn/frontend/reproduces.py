"""Whether a trace returns what torch returns: the same outputs (count, nesting), each with
torch's dtype and, at the example, its shape.

fx runs the forward's Python on proxies, so a test on a traced value's Python type
(``isinstance(s, tuple)``) or anything else fx cannot see takes a branch torch does not,
and the trace is another program. Parity would catch it later and blame the wrong thing;
comparing the outputs' structure with one eager run right after tracing catches it where it
happens, naming the first output that differs.
"""
from __future__ import annotations

from typing import Any, Optional

import torch

from graphnn.frontend.rules import Ref
from graphnn.ir import Graph
from graphnn.tensors import dtype_name, named_outputs


def first_difference(graph: Graph, traced: Any, eager: Any) -> Optional[str]:
    """How the traced outputs (Refs into ``graph``, nested as forward returned them) first
    differ from torch's own ``eager`` outputs, e.g. ``output[1] is a tuple of 2 in the trace, a
    1x3x8:float32 tensor in torch``; None when they agree. Nesting that flattens to the same
    named outputs (``(y, (h, c))`` for ``(y, h, c)``) makes the same file: it agrees."""
    if _same_outputs(graph, named_outputs(traced), named_outputs(eager)):
        return None
    return _difference(graph, traced, eager, "output") or "the outputs differ"


def _same_outputs(graph: Graph, traced: list, eager: list) -> bool:
    """The same output names, each a tensor of the same dtype and shape on both sides."""
    if [name for name, _ in traced] != [name for name, _ in eager]:
        return False
    return all(_agrees(graph, t, e) if isinstance(t, Ref) and isinstance(e, torch.Tensor)
               else not isinstance(t, Ref) and not isinstance(e, torch.Tensor)
               for (_, t), (_, e) in zip(traced, eager))


def _difference(graph: Graph, traced: Any, eager: Any, path: str) -> Optional[str]:
    traced_kind, eager_kind = _kind(graph, traced), _kind(graph, eager)
    if traced_kind != eager_kind or (isinstance(traced, Ref) and not _agrees(graph, traced, eager)):
        return f"{path} is {_described(graph, traced)} in the trace, {_described(graph, eager)} in torch"
    if isinstance(eager, dict):
        pairs = [(traced[key], eager[key], f"{path}[{key!r}]") for key in eager]
    elif isinstance(eager, (tuple, list)):
        pairs = [(t, e, f"{path}[{i}]") for i, (t, e) in enumerate(zip(traced, eager))]
    else:
        return None
    for inner_traced, inner_eager, inner_path in pairs:
        found = _difference(graph, inner_traced, inner_eager, inner_path)
        if found:
            return found
    return None


def _kind(graph: Graph, value: Any) -> str:
    """What a (traced or eager) output is, in words equal when the two agree: containers by
    length and keys; tensors only as tensors (``_agrees`` compares their dtypes and shapes)."""
    if isinstance(value, dict):
        return f"a dict with keys {', '.join(sorted(map(str, value)))}" if value else "an empty dict"
    if isinstance(value, (tuple, list)):
        return f"a tuple of {len(value)}"
    if isinstance(value, (Ref, torch.Tensor)):
        return "a tensor"
    return "None" if value is None else "a Python value"


def _agrees(graph: Graph, traced: Ref, eager: torch.Tensor) -> bool:
    """The same dtype, rank and size in every dim known at the example (a derived dim such as
    ``2*seq`` is not evaluated here: it agrees)."""
    value = graph.values[traced.name]
    shape = _at_example(graph, value.shape)
    return (value.dtype == _dtype(eager) and len(shape) == eager.dim()
            and all(not isinstance(d, int) or d == e for d, e in zip(shape, eager.shape)))


def _described(graph: Graph, value: Any) -> str:
    if isinstance(value, Ref):
        traced = graph.values[value.name]
        return f"a {_shape_text(_at_example(graph, traced.shape))}:{traced.dtype} tensor"
    if isinstance(value, torch.Tensor):
        return f"a {_shape_text(tuple(value.shape))}:{_dtype(value)} tensor"
    return _kind(graph, value)


def _dtype(tensor: torch.Tensor) -> str:
    try:
        return dtype_name(tensor.dtype)
    except KeyError:  # a dtype graphnn has no name for (complex): never equal to an IR dtype
        return str(tensor.dtype).replace("torch.", "")


def _at_example(graph: Graph, shape: tuple) -> tuple:
    """The shape at the example's sizes; a derived dim (``2*seq``) stays as it is."""
    return tuple(graph.symbols.get(d, d) if isinstance(d, str) else d for d in shape)


def _shape_text(shape: tuple) -> str:
    return "x".join(map(str, shape)) or "scalar"
