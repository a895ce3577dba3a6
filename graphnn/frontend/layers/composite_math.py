"""Rules for elementwise math that ONNX has no operator for, spelled with the elementwise ops:
log2 / log10 / exp2, logaddexp(2), xlogy, erfc, trunc / frac, hypot, lerp, logit, expit,
atan2, nan_to_num, signbit / copysign (-0.0 has its sign bit) and heaviside. Each follows torch's definition at the edges its docs name (infinities,
x = 0 in xlogy, NaN handling); parity tests are in tests/ops/test_elementwise.py.
"""
import math

import torch

from graphnn.frontend.layers.elementwise import binary, cast, float_dtype, promote
from graphnn.frontend.rules import Ref, function_rule, function_rule_for, method_rule
from graphnn.ops.elementwise import (ABS, ADD, ATAN, DIV, EQ, ERF, EXP, FLOOR, GT, ISINF, ISNAN, LOG, LOG1P,
                                     LOGICAL_AND, LOGICAL_NOT, LOGICAL_OR, LT, MAXIMUM, MUL, NEG, POW, SIGN, SQRT,
                                     SUB, WHERE)
from graphnn.ops.structural import IDENTITY
from graphnn.tensors import is_float


def _float(b, *operands) -> list:
    """Operands as Refs of their promoted float dtype (int tensors become float, as in torch)."""
    return promote(b, *operands, dtype=float_dtype(b, *operands))


def _scaled(b, op, x, factor: float):
    (x,) = _float(b, x)
    return binary(b, MUL, b.emit(op, [x]), factor)


@function_rule(torch.log2)
@method_rule("log2", "log2_")
def log2(b, x, *, out=None):
    return _scaled(b, LOG, x, 1 / math.log(2))


@function_rule(torch.log10)
@method_rule("log10", "log10_")
def log10(b, x, *, out=None):
    return _scaled(b, LOG, x, 1 / math.log(10))


@function_rule(torch.exp2, torch.special.exp2)
@method_rule("exp2", "exp2_")
def exp2(b, x, *, out=None):
    """Pow(2, x): exact at integer x, as torch's exp2."""
    (x,) = _float(b, x)
    return binary(b, POW, 2.0, x, dtype=b.dtype(x))


def _logaddexp(b, x, other, base_e: bool):
    """max + log1p(exp(-|x - y|)) (base 2: with exp2 and / ln 2); equal operands give a zero
    gap, so that inf and -inf pairs keep their value instead of inf - inf = NaN."""
    x, other = _float(b, x, other)
    top = b.emit(MAXIMUM, [x, other])
    gap = b.emit(NEG, [b.emit(ABS, [b.emit(SUB, [x, other])])])
    gap = b.emit(WHERE, [b.emit(EQ, [x, other]), b.constant(0.0, dtype=b.dtype(x)), gap])
    if base_e:
        return b.emit(ADD, [top, b.emit(LOG1P, [b.emit(EXP, [gap])])])
    softened = binary(b, MUL, b.emit(LOG1P, [exp2(b, gap)]), 1 / math.log(2))
    return b.emit(ADD, [top, softened])


@function_rule(torch.logaddexp)
@method_rule("logaddexp")
def logaddexp(b, x, other, *, out=None):
    return _logaddexp(b, x, other, base_e=True)


@function_rule(torch.logaddexp2)
@method_rule("logaddexp2")
def logaddexp2(b, x, other, *, out=None):
    return _logaddexp(b, x, other, base_e=False)


@function_rule(torch.xlogy, torch.special.xlogy)
@method_rule("xlogy", "xlogy_")
def xlogy(b, x, other, *, out=None):
    """x * log(y), 0 where x == 0 unless y is NaN (torch's definition)."""
    x, other = _float(b, x, other)
    zero = b.constant(0.0, dtype=b.dtype(x))
    keep_zero = b.emit(LOGICAL_AND, [b.emit(EQ, [x, zero]), b.emit(LOGICAL_NOT, [b.emit(ISNAN, [other])])])
    return b.emit(WHERE, [keep_zero, zero, b.emit(MUL, [x, b.emit(LOG, [other])])])


@function_rule(torch.erfc, torch.special.erfc)
@method_rule("erfc", "erfc_")
def erfc(b, x, *, out=None):
    (x,) = _float(b, x)
    return binary(b, SUB, 1.0, b.emit(ERF, [x]), dtype=b.dtype(x))


@function_rule(torch.trunc, torch.fix)
@method_rule("trunc", "trunc_", "fix", "fix_")
def trunc(b, x, *, out=None):
    """sign(x) * floor(|x|) (ONNX has no Trunc); ints are unchanged."""
    if not is_float(b.dtype(x)):
        return b.emit(IDENTITY, [x])
    return b.emit(MUL, [b.emit(SIGN, [x]), b.emit(FLOOR, [b.emit(ABS, [x])])])


@function_rule(torch.frac)
@method_rule("frac", "frac_")
def frac(b, x, *, out=None):
    return b.emit(SUB, [x, trunc(b, x)])


@function_rule(torch.hypot)
@method_rule("hypot", "hypot_")
def hypot(b, x, other, *, out=None):
    x, other = _float(b, x, other)
    return b.emit(SQRT, [b.emit(ADD, [b.emit(MUL, [x, x]), b.emit(MUL, [other, other])])])


@function_rule(torch.lerp)
@method_rule("lerp", "lerp_")
def lerp(b, start, end, weight, *, out=None):
    """start + weight * (end - start)."""
    return binary(b, ADD, start, binary(b, MUL, weight, binary(b, SUB, end, start)))


@function_rule(torch.logit, torch.special.logit)
@method_rule("logit", "logit_")
def logit(b, x, eps=None, *, out=None):
    """log(x / (1 - x)), x clamped to [eps, 1 - eps] when eps is given."""
    (x,) = _float(b, x)
    if eps is not None:
        x = function_rule_for(torch.clamp)(b, x, min=eps, max=1 - eps)
    return b.emit(LOG, [b.emit(DIV, [x, binary(b, SUB, 1.0, x, dtype=b.dtype(x))])])


@function_rule(torch.special.expit)
@method_rule("expit")
def expit(b, x, *, out=None):
    return function_rule_for(torch.sigmoid)(b, x)


@function_rule(torch.atan2, torch.arctan2)
@method_rule("atan2", "atan2_", "arctan2", "arctan2_")
def atan2(b, y, x, *, out=None):
    """atan(y / x), moved by ±pi (the sign of y) where x < 0, and ±pi/2 or 0 where x == 0."""
    y, x = _float(b, y, x)
    dtype = b.dtype(x)
    zero = b.constant(0.0, dtype=dtype)
    half_turns = binary(b, MUL, b.emit(SIGN, [y]), math.pi, dtype=dtype)  # sign(y) * pi; 0 at y == 0
    y_sign = b.emit(WHERE, [b.emit(LT, [y, zero]), b.constant(-1.0, dtype=dtype), b.constant(1.0, dtype=dtype)])
    base = b.emit(ATAN, [b.emit(DIV, [y, x])])
    left = b.emit(ADD, [base, binary(b, MUL, y_sign, math.pi, dtype=dtype)])
    on_axis = binary(b, MUL, half_turns, 0.5, dtype=dtype)
    value = b.emit(WHERE, [b.emit(LT, [x, zero]), left, base])
    return b.emit(WHERE, [b.emit(EQ, [x, zero]), on_axis, value])


@function_rule(torch.nan_to_num)
@method_rule("nan_to_num", "nan_to_num_")
def nan_to_num(b, x, nan=0.0, posinf=None, neginf=None, *, out=None):
    """NaN -> nan, +inf -> posinf, -inf -> neginf (the dtype's largest / lowest by default)."""
    if not is_float(b.dtype(x)):
        return b.emit(IDENTITY, [x])
    dtype = b.dtype(x)
    info = torch.finfo(getattr(torch, dtype))
    constant = lambda v: b.constant(float(v), dtype=dtype)  # noqa: E731
    zero = constant(0.0)
    infinite = b.emit(ISINF, [x])
    positive = b.emit(LOGICAL_AND, [infinite, b.emit(GT, [x, zero])])
    negative = b.emit(LOGICAL_AND, [infinite, b.emit(LT, [x, zero])])
    out = b.emit(WHERE, [b.emit(ISNAN, [x]), constant(nan or 0.0), x])
    out = b.emit(WHERE, [positive, constant(info.max if posinf is None else posinf), out])
    return b.emit(WHERE, [negative, constant(info.min if neginf is None else neginf), out])


@function_rule(torch.signbit)
@method_rule("signbit")
def signbit(b, x, *, out=None):
    """x < 0, and -0.0 too (its reciprocal is -inf); false for ints >= 0."""
    if not is_float(b.dtype(x)):
        return binary(b, LT, x, 0)
    negative_zero = b.emit(LOGICAL_AND, [binary(b, EQ, x, 0.0), binary(b, LT, binary(b, DIV, 1.0, x), 0.0)])
    return b.emit(LOGICAL_OR, [binary(b, LT, x, 0.0), negative_zero])


@function_rule(torch.copysign)
@method_rule("copysign", "copysign_")
def copysign(b, x, other, *, out=None):
    """|x| with the sign bit of ``other`` (a number or a tensor), in float as torch."""
    x, = _float(b, x)
    magnitude = b.emit(ABS, [x])
    if not isinstance(other, Ref):
        return magnitude if math.copysign(1.0, other) > 0 else b.emit(NEG, [magnitude])
    return b.emit(WHERE, [signbit(b, other), b.emit(NEG, [magnitude]), magnitude])


@function_rule(torch.heaviside)
@method_rule("heaviside", "heaviside_")
def heaviside(b, x, values, *, out=None):
    """0 below zero, 1 above, ``values`` at zero; x's dtype (torch asks both to share it)."""
    dtype = b.dtype(x)
    values, step = promote(b, values, cast(b, binary(b, GT, x, 0), dtype), dtype=dtype)
    return b.emit(WHERE, [binary(b, EQ, x, 0), values, step])
