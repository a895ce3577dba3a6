"""Arithmetic on symbolic dims (an int, or a symbol name such as ``"batch"``).

Only what shape rules need: products for reshape, broadcasting, axis normalisation
and the sliding-window size formula shared by conv and pooling.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional, Sequence

from graphnn.ir import Dim
from graphnn.ops.registry import ShapeMismatch


def is_static(shape: Sequence[Dim]) -> bool:
    return all(isinstance(d, int) for d in shape)


def normalize_axis(axis: int, rank: int, what: str = "dim") -> int:
    """Python-style negative axes to 0..rank-1, with a readable error."""
    if not -rank <= axis < max(rank, 1):
        raise ShapeMismatch(f"has {what}={axis}, out of range for a {rank}-d input")
    return axis % rank if rank else 0


def product(dims: Sequence[Dim]) -> tuple[int, Counter]:
    """(int coefficient, multiset of symbols): the symbolic number of elements."""
    coef, syms = 1, Counter()
    for d in dims:
        if isinstance(d, int):
            coef *= d
        else:
            syms[d] += 1
    return coef, syms


def product_dim(dims: Sequence[Dim], fresh: str) -> Dim:
    """The product as one dim: an int, a lone symbol, or ``fresh`` when it is neither."""
    coef, syms = product(dims)
    if not syms:
        return coef
    if coef == 1 and sum(syms.values()) == 1:
        return next(iter(syms))
    return fresh


def broadcast(a: Sequence[Dim], b: Sequence[Dim]) -> tuple:
    """Numpy broadcasting over symbolic dims; a symbol only meets 1 or itself."""
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ShapeMismatch(f"cannot broadcast shapes {fmt(a)} and {fmt(b)} (dims {x} and {y})")
    return tuple(out)


def window_out(size: Dim, kernel: int, stride: int, pad_total: int, dilation: int = 1,
               ceil_mode: bool = False, fresh: Optional[str] = None) -> Dim:
    """Output length of a conv/pool window sliding over ``size`` elements."""
    if not isinstance(size, int):
        return fresh or f"{size}_out"
    span = dilation * (kernel - 1) + 1
    room = size + pad_total - span
    if room < 0:
        raise ShapeMismatch(
            f"has a window of {span} over {size} elements (+{pad_total} padding): input too small"
        )
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    # torch: the last window must start inside the input or left padding
    if ceil_mode and (out - 1) * stride >= size + pad_total // 2:
        out -= 1
    return out


def fmt(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def dims_label(values) -> str:
    """``3x3``: how a label shows a kernel, a stride or a weight's dims."""
    return "x".join(str(v) for v in values)
