"""Rules for tensors made from sizes rather than from other tensors: ``torch.arange``,
``torch.zeros`` / ``ones`` / ``full`` / ``empty`` and ``torch.eye``.

Transformers build their position ids, rotary angles and masks this way, from the
sequence length: ``torch.arange(x.size(1))`` must stay a function of the input's size
(ONNX Range on the run-time size), not become the example's 8 positions. Sizes may be
Python ints (a constant is emitted: nothing to compute at run time) or traced sizes
(``Ref`` to an int64 scalar, its ``known`` value giving the output's symbolic length).
"""
import torch

from graphnn.frontend.layers.elementwise import cast, default_float
from graphnn.frontend.layers.shape import filled, size_entries
from graphnn.frontend.rules import Ref, function_rule
from graphnn.ops.creation import ARANGE, EYE_LIKE
from graphnn.ops.dims import fmt
from graphnn.tensors import dtype_name, torch_dtype

_NUMBERS = (bool, int, float)


# ------------------------------------------------------------------ arange
@function_rule(torch.arange)
def arange(b, start, end=None, step=1, *, dtype=None, out=None, **layout_device_and_flags):
    """arange(end), arange(start, end[, step]); a traced bound keeps the length symbolic."""
    if end is None:
        start, end = 0, start
    bounds = [_bound(b, v) for v in (start, end, step)]
    dtype = dtype_name(dtype) if dtype is not None else _arange_dtype(b, bounds)
    if all(isinstance(v, _NUMBERS) for v in bounds):
        return b.constant(torch.arange(*bounds, dtype=torch_dtype(dtype)))
    if isinstance(bounds[2], Ref):
        raise b.unsupported("torch.arange with a step computed in the graph")
    dynamic = [cast(b, v, "int64") for v in bounds if isinstance(v, Ref)]
    attrs = [None if isinstance(v, Ref) else v for v in bounds]
    return b.emit(ARANGE, dynamic, start=attrs[0], end=attrs[1], step=attrs[2], dtype=dtype)


def _bound(b, value):
    """A Python number, the int a traced size is known to be, or the traced size (a Ref)."""
    if isinstance(value, Ref):
        if b.shape(value) != ():
            raise b.unsupported(f"torch.arange with a bound that is a {fmt(b.shape(value))} tensor "
                                f"(bounds are numbers or sizes such as x.size(1))")
        known = b.value(value).known
        return known if isinstance(known, int) else value
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return value.item()
    if not isinstance(value, _NUMBERS):
        raise b.unsupported(f"torch.arange with a bound of type {type(value).__name__}")
    return value


def _arange_dtype(b, bounds) -> str:
    """torch's rule: the default float when any bound is a float, else int64."""
    floats = [v for v in bounds if isinstance(v, float) or (isinstance(v, Ref) and b.dtype(v).startswith(("float", "bfloat")))]
    return default_float() if floats else "int64"


# ------------------------------------------------------------------ filled tensors
def _fill_dtype(fill_value, dtype) -> str:
    """The dtype asked for, else torch's: bool, int64 or the default float by the value."""
    if dtype is not None:
        return dtype_name(dtype)
    if isinstance(fill_value, bool):
        return "bool"
    if isinstance(fill_value, int):
        return "int64"
    return default_float()


@function_rule(torch.zeros)
def zeros(b, *size, dtype=None, out=None, **layout_device_and_flags):
    return filled(b, size_entries(b, size), 0, _fill_dtype(0.0, dtype))


@function_rule(torch.ones)
def ones(b, *size, dtype=None, out=None, **layout_device_and_flags):
    return filled(b, size_entries(b, size), 1, _fill_dtype(1.0, dtype))


@function_rule(torch.empty)
def empty(b, *size, dtype=None, out=None, **layout_device_and_flags):
    """Uninitialised memory in torch; a model must write it before reading, so zeros do."""
    return filled(b, size_entries(b, size), 0, _fill_dtype(0.0, dtype))


@function_rule(torch.full)
def full(b, size, fill_value, *, dtype=None, out=None, **layout_device_and_flags):
    if isinstance(fill_value, torch.Tensor) and fill_value.dim() == 0:
        fill_value = fill_value.item()
    return filled(b, size_entries(b, (size,)), fill_value, _fill_dtype(fill_value, dtype))


# ------------------------------------------------------------------ eye
@function_rule(torch.eye)
def eye(b, n, m=None, *, dtype=None, out=None, **layout_device_and_flags):
    """An identity matrix; a traced size gives a zero matrix of that size, then EyeLike."""
    dtype = dtype_name(dtype) if dtype is not None else default_float()
    sizes = size_entries(b, (n,) if m is None else (n, m))
    if all(isinstance(s, int) for s in sizes):
        return b.constant(torch.eye(*sizes, dtype=torch_dtype(dtype)))
    rows = sizes[0]
    zeros = filled(b, [rows, rows if m is None else sizes[1]], 0, dtype)
    return b.emit(EYE_LIKE, [zeros])
