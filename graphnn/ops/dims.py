"""Arithmetic on symbolic dims (an int, or a symbol name such as ``"batch"``).

Only what shape rules need: products for reshape, broadcasting, axis normalisation
and the sliding-window size formula shared by conv and pooling.

Two different names may be one size: a KV-cache decoder's mask spans
``total_sequence_length`` = ``past_sequence_length+sequence_length``, and one model
broadcasts the mask against the keys (Bloom's alibi), another slices the past off the
mask (OPT's positions). A graph's ``dim_relations`` say so; ``infer_node`` runs each rule
under them (``registry.dim_relations()``), and ``same`` / ``canonical`` read them.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Optional, Sequence

import sympy

from graphnn.ir import Dim
from graphnn.ops.registry import ShapeMismatch, dim_relations


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


_DIM_EXPRESSION = re.compile(r"^[A-Za-z0-9_+\-*/() ]+$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expression(dim):
    """A dim as a sympy expression; names are positive integer symbols (``seq``, never
    sympy's own ``S`` or ``E``). None for a dim that is no expression (``fc.0_d1``)."""
    if isinstance(dim, int):
        return sympy.Integer(dim)
    if not isinstance(dim, str) or not _DIM_EXPRESSION.match(dim):
        return None
    return _parsed(dim)


@functools.lru_cache(maxsize=4096)
def _parsed(dim: str):
    """Cached: sympy's parser takes about a millisecond, and a model reads the same few dims
    (``batch``, ``batch*64``) at every layer."""
    names = {n: sympy.Symbol(n, integer=True, positive=True) for n in _NAME.findall(dim)}
    return sympy.sympify(dim, locals=names)


def dim_expression(expr) -> str:
    """A sympy size as an IR dim: ``2*seq``, ``seq-1`` (no spaces, like the slice rule's)."""
    return str(expr).replace(" ", "")


def canonical(dim: Dim) -> Dim:
    """``dim`` with the known relations substituted and simplified: an int or an
    expression string (``sequence_length`` for ``total_sequence_length-past_sequence_length``);
    a dim that is no expression (``fc.0_d1``) as it is."""
    expr = expression(dim)
    if expr is None:
        return dim
    known = {expression(name): expression(value) for name, value in dim_relations().items()}
    expr = expr.subs(known) if known else expr
    return int(expr) if expr.is_Integer else dim_expression(expr)


def difference(a: Dim, b: Dim) -> Optional[Dim]:
    """``a - b`` under the known relations; None when either is no expression."""
    x, y = expression(a), expression(b)
    if x is None or y is None:
        return None
    return canonical(str(x - y))


def same(x: Dim, y: Dim) -> bool:
    """Whether two dims are one size: equal, or equal under the known relations."""
    if x == y:
        return True
    return bool(dim_relations()) and not (isinstance(x, int) and isinstance(y, int)) and canonical(x) == canonical(y)


def broadcast(a: Sequence[Dim], b: Sequence[Dim]) -> tuple:
    """Numpy broadcasting over symbolic dims; a symbol only meets 1 or itself (or a
    dim the known relations make equal to it)."""
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif same(x, y):
            out.append(x)
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
    # torch rounds down (a negative room too): with ceil_mode a window wider than the input
    # still gives one output when it starts inside it (EfficientNet's AvgPool2d(1280, ceil_mode=True))
    out = ((room + stride - 1) // stride if ceil_mode else room // stride) + 1
    # torch: the last window must start inside the input or left padding
    if ceil_mode and (out - 1) * stride >= size + pad_total // 2:
        out -= 1
    if out < 1:
        raise ShapeMismatch(
            f"has a window of {span} over {size} elements (+{pad_total} padding): input too small"
        )
    return out


def fmt(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def dims_label(values) -> str:
    """``3x3``: how a label shows a kernel, a stride or a weight's dims."""
    return "x".join(str(v) for v in values)
