"""Rules for elementwise ops: arithmetic, comparisons, logic, ``torch.where``, unary
math, ``clamp`` and dtype casts (``x.float()``, ``x.to(dtype)``...).

Type promotion is torch's own: ``torch.result_type`` on stand-in tensors picks the
common dtype, and an operand of another dtype gets a ``cast`` node, so every IR op
sees operands of one dtype (``int_tensor * 0.5`` casts the tensor to float32).
"""
import operator

import torch

from graphnn.frontend.rules import Ref, function_rule, method_rule
from graphnn.ops.elementwise import (ABS, ACOS, ACOSH, ADD, ASIN, ASINH, ATAN, ATANH, CAST, CEIL, CLAMP, COS, COSH, DIV,
                                     EQ, ERF, EXP, EXPM1, FLOOR, FLOORDIV, FMOD, GE, GT, ISINF, ISNAN, LE, LOG, LOG1P,
                                     LOGICAL_AND, LOGICAL_NOT, LOGICAL_OR, LOGICAL_XOR, LT, MAXIMUM, MINIMUM, MUL, NE, NEG,
                                     POW, RECIPROCAL, REMAINDER, ROUND, RSQRT, SIGN, SIN, SINH, SQRT, SUB, TAN, TRUNCDIV,
                                     WHERE)
from graphnn.ops.structural import IDENTITY
from graphnn.tensors import dtype_name, is_float, torch_dtype


# ------------------------------------------------------------------ type promotion
def _stand_in(b, x):
    """What promotion needs of an operand: a Python number as is; a tensor as an
    empty tensor of its dtype, 0-d when it is 0-d (those promote like numbers)."""
    if isinstance(x, Ref):
        return torch.empty((0,) if b.rank(x) else (), dtype=torch_dtype(b.dtype(x)))
    if isinstance(x, (bool, int, float)):
        return x
    raise b.unsupported(f"an operand of type {type(x).__name__}")


def result_dtype(b, *operands) -> str:
    """torch's promoted dtype of tensors (Refs) and Python numbers."""
    probes = [_stand_in(b, x) for x in operands]
    result = probes[0] if isinstance(probes[0], torch.Tensor) else torch.tensor(probes[0])
    for probe in probes[1:]:
        dims = (0,) if any(isinstance(p, torch.Tensor) and p.dim() for p in (result, probe)) else ()
        result = torch.empty(dims, dtype=torch.result_type(result, probe))
    return dtype_name(result.dtype)


def cast(b, x, dtype: str):
    """``x`` as ``dtype``: a cast node when it differs."""
    return x if b.dtype(x) == dtype else b.emit(CAST, [x], name=f"{b.name}_cast", dtype=dtype)


def as_tensor(b, x, dtype: str):
    """A Ref of ``dtype`` from a Ref (cast if needed) or a Python number (a constant)."""
    return cast(b, x, dtype) if isinstance(x, Ref) else b.constant(x, dtype=dtype)


def promote(b, *operands, dtype=None) -> list:
    """All operands as Refs of their common dtype (or of ``dtype`` when given)."""
    dtype = dtype or result_dtype(b, *operands)
    return [as_tensor(b, x, dtype) for x in operands]


def default_float() -> str:
    return dtype_name(torch.get_default_dtype())


def float_dtype(b, *operands) -> str:
    """The promoted dtype, or the default float when that is an int or bool (true division)."""
    dtype = result_dtype(b, *operands)
    return dtype if is_float(dtype) else default_float()


def binary(b, op, a, other, dtype=None):
    """Emit a broadcasting binary op on promoted operands."""
    return b.emit(op, promote(b, a, other, dtype=dtype))


def _register(functions, methods, rule):
    """Stack the function and method registrations of one rule (methods also in-place,
    ``x.add_``, which is the same computation in a traced graph)."""
    names = [m for name in methods for m in ((name,) if name.startswith("__") else (name, name + "_"))]
    return function_rule(*functions)(method_rule(*names)(rule))


# ------------------------------------------------------------------ arithmetic
def _additive(op):
    def rule(b, a, other, *, alpha=1, out=None):
        if op is ADD and isinstance(a, (list, tuple)) and isinstance(other, (list, tuple)):
            return [*a, *other]  # x.shape[:2] + (4,): sizes for a reshape
        if alpha != 1:
            other = other * alpha if not isinstance(other, Ref) else binary(b, MUL, other, alpha)
        return binary(b, op, a, other)
    return rule


_register([operator.add, operator.iadd, torch.add], ["add", "__add__", "__radd__"], _additive(ADD))
_register([operator.sub, operator.isub, torch.sub, torch.subtract], ["sub", "subtract"], _additive(SUB))


def _simple_binary(op):
    def rule(b, a, other, *, out=None):
        return binary(b, op, a, other)
    return rule


_SIMPLE_BINARY = {  # op: (torch functions, tensor methods)
    MUL: ([operator.mul, operator.imul, torch.mul, torch.multiply], ["mul", "multiply"]),
    POW: ([operator.pow, operator.ipow, torch.pow], ["pow"]),
    REMAINDER: ([operator.mod, operator.imod, torch.remainder], ["remainder"]),
    FMOD: ([torch.fmod], ["fmod"]),
    MAXIMUM: ([torch.maximum], ["maximum"]),
    MINIMUM: ([torch.minimum], ["minimum"]),
    FLOORDIV: ([operator.floordiv, operator.ifloordiv, torch.floor_divide], ["floor_divide"]),
}
for _op, (_functions, _methods) in _SIMPLE_BINARY.items():
    _register(_functions, _methods, _simple_binary(_op))

_ROUNDING_MODES = {None: DIV, "trunc": TRUNCDIV, "floor": FLOORDIV}


@function_rule(operator.truediv, operator.itruediv, torch.div, torch.divide, torch.true_divide)
@method_rule("div", "div_", "divide", "divide_", "true_divide", "true_divide_")
def div(b, a, other, *, rounding_mode=None, out=None):
    """True division promotes ints to float; the rounding modes keep the dtype."""
    if rounding_mode not in _ROUNDING_MODES:
        raise b.unsupported(f"torch.div with rounding_mode={rounding_mode!r}")
    dtype = float_dtype(b, a, other) if rounding_mode is None else None
    return binary(b, _ROUNDING_MODES[rounding_mode], a, other, dtype=dtype)


# ------------------------------------------------------------------ comparisons and logic
_COMPARISONS = {
    EQ: ([operator.eq, torch.eq], ["eq"]),
    NE: ([operator.ne, torch.ne, torch.not_equal], ["ne", "not_equal"]),
    LT: ([operator.lt, torch.lt, torch.less], ["lt", "less"]),
    LE: ([operator.le, torch.le, torch.less_equal], ["le", "less_equal"]),
    GT: ([operator.gt, torch.gt, torch.greater], ["gt", "greater"]),
    GE: ([operator.ge, torch.ge, torch.greater_equal], ["ge", "greater_equal"]),
}
for _op, (_functions, _methods) in _COMPARISONS.items():
    _register(_functions, _methods, _simple_binary(_op))


def _logical(op):
    def rule(b, a, other, *, out=None):
        return binary(b, op, a, other, dtype="bool")
    return rule


def _bool_operator(op):
    """``&``, ``|``, ``^`` on bool tensors are the logical ops; on ints they are bitwise."""
    def rule(b, a, other):
        if result_dtype(b, a, other) != "bool":
            raise b.unsupported(f"bitwise {op.name.split('_')[1]} on integer tensors")
        return binary(b, op, a, other, dtype="bool")
    return rule


_LOGICAL = {LOGICAL_AND: operator.and_, LOGICAL_OR: operator.or_, LOGICAL_XOR: operator.xor}
for _op, _operator in _LOGICAL.items():
    _register([getattr(torch, _op.name)], [_op.name], _logical(_op))
    function_rule(_operator)(_bool_operator(_op))


@function_rule(torch.logical_not)
@method_rule("logical_not", "logical_not_")
def logical_not(b, x, *, out=None):
    return b.emit(LOGICAL_NOT, [cast(b, x, "bool")])


@function_rule(operator.invert)
def invert(b, x):
    if b.dtype(x) != "bool":
        raise b.unsupported("bitwise not (~) on an integer tensor")
    return b.emit(LOGICAL_NOT, [x])


@function_rule(torch.where)
def where(b, condition, input=None, other=None, *, out=None):
    if input is None or other is None:
        raise b.unsupported("torch.where(condition) without values (its output size depends on the data)")
    return b.emit(WHERE, [cast(b, condition, "bool"), *promote(b, input, other)])


@method_rule("where")
def where_method(b, x, condition, other):
    return where(b, condition, x, other)


# ------------------------------------------------------------------ unary math
def _unary(op, to_float=False, identity_on_int=False):
    """``to_float``: int inputs are promoted (torch.exp(int) is float);
    ``identity_on_int``: rounding an int tensor returns it unchanged."""
    def rule(b, x, *, out=None):
        dtype = b.dtype(x)
        if identity_on_int and not is_float(dtype):
            return b.emit(IDENTITY, [x])
        if to_float and not is_float(dtype):
            x = cast(b, x, default_float())
        return b.emit(op, [x])
    return rule


_UNARY = {  # op: (torch functions, tensor methods, kind)
    NEG: ([operator.neg, torch.neg, torch.negative], ["neg", "negative"], {}),
    ABS: ([operator.abs, torch.abs, torch.absolute], ["abs", "absolute"], {}),
    SIGN: ([torch.sign], ["sign"], {}),
    EXP: ([torch.exp], ["exp"], {"to_float": True}),
    LOG: ([torch.log], ["log"], {"to_float": True}),
    SQRT: ([torch.sqrt], ["sqrt"], {"to_float": True}),
    RSQRT: ([torch.rsqrt], ["rsqrt"], {"to_float": True}),
    RECIPROCAL: ([torch.reciprocal], ["reciprocal"], {"to_float": True}),
    SIN: ([torch.sin], ["sin"], {"to_float": True}),
    COS: ([torch.cos], ["cos"], {"to_float": True}),
    ERF: ([torch.erf, torch.special.erf], ["erf"], {"to_float": True}),
    LOG1P: ([torch.log1p, torch.special.log1p], ["log1p"], {"to_float": True}),
    EXPM1: ([torch.expm1, torch.special.expm1], ["expm1"], {"to_float": True}),
    TAN: ([torch.tan], ["tan"], {"to_float": True}),
    ASIN: ([torch.asin, torch.arcsin], ["asin", "arcsin"], {"to_float": True}),
    ACOS: ([torch.acos, torch.arccos], ["acos", "arccos"], {"to_float": True}),
    ATAN: ([torch.atan, torch.arctan], ["atan", "arctan"], {"to_float": True}),
    SINH: ([torch.sinh], ["sinh"], {"to_float": True}),
    COSH: ([torch.cosh], ["cosh"], {"to_float": True}),
    ASINH: ([torch.asinh, torch.arcsinh], ["asinh", "arcsinh"], {"to_float": True}),
    ACOSH: ([torch.acosh, torch.arccosh], ["acosh", "arccosh"], {"to_float": True}),
    ATANH: ([torch.atanh, torch.arctanh], ["atanh", "arctanh"], {"to_float": True}),
    FLOOR: ([torch.floor], ["floor"], {"identity_on_int": True}),
    CEIL: ([torch.ceil], ["ceil"], {"identity_on_int": True}),
}
for _op, (_functions, _methods, _kind) in _UNARY.items():
    _register(_functions, _methods, _unary(_op, **_kind))


def _predicate(op):
    """isnan / isinf: False everywhere on an int or bool tensor."""
    def rule(b, x):
        if not is_float(b.dtype(x)):
            return binary(b, NE, x, x)  # False everywhere, of x's shape
        return b.emit(op, [x])
    return rule


function_rule(torch.isnan)(method_rule("isnan")(_predicate(ISNAN)))
function_rule(torch.isinf)(method_rule("isinf")(_predicate(ISINF)))


@function_rule(torch.round)
@method_rule("round", "round_")
def round_(b, x, *, decimals=0, out=None):
    """Round half to even; ``decimals`` scales by 10**decimals around it as torch does."""
    if not is_float(b.dtype(x)):
        return b.emit(IDENTITY, [x])
    if decimals == 0:
        return b.emit(ROUND, [x])
    scale = 10.0 ** abs(decimals)
    inward, outward = (MUL, DIV) if decimals > 0 else (DIV, MUL)
    return binary(b, outward, b.emit(ROUND, [binary(b, inward, x, scale)]), scale)


# ------------------------------------------------------------------ clamp
@function_rule(torch.clamp, torch.clip)
@method_rule("clamp", "clamp_", "clip", "clip_")
def clamp(b, x, min=None, max=None, *, out=None):
    """Number bounds: one ``clamp`` op; tensor bounds: maximum / minimum."""
    if min is None and max is None:
        raise b.unsupported("clamp without min and max")
    if isinstance(min, Ref) or isinstance(max, Ref):
        out = x if min is None else binary(b, MAXIMUM, x, min)
        return out if max is None else binary(b, MINIMUM, out, max)
    dtype = result_dtype(b, x, *[v for v in (min, max) if v is not None])
    number = float if is_float(dtype) else int
    return b.emit(CLAMP, [cast(b, x, dtype)],
                  min=None if min is None else number(min), max=None if max is None else number(max))


@function_rule(torch.clamp_min)
@method_rule("clamp_min", "clamp_min_")
def clamp_min(b, x, min):
    return clamp(b, x, min=min)


@function_rule(torch.clamp_max)
@method_rule("clamp_max", "clamp_max_")
def clamp_max(b, x, max):
    return clamp(b, x, max=max)


# ------------------------------------------------------------------ casts
_CAST_METHODS = {
    "float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16",
    "long": "int64", "int": "int32", "short": "int16", "char": "int8", "byte": "uint8",
    "bool": "bool",
}


def _cast_method(dtype):
    def rule(b, x, memory_format=None):
        return b.emit(CAST, [x], dtype=dtype)
    return rule


for _method, _dtype in _CAST_METHODS.items():
    method_rule(_method)(_cast_method(_dtype))


@method_rule("to")
def to(b, x, *args, dtype=None, **device_and_flags):
    """x.to(dtype) / x.to(other) / x.to(device[, dtype]); a device alone changes nothing here."""
    for arg in args:
        if isinstance(arg, torch.dtype):
            dtype = arg
        elif isinstance(arg, Ref):
            return b.emit(CAST, [x], dtype=b.dtype(arg))
    if dtype is None:
        return b.emit(IDENTITY, [x])
    return b.emit(CAST, [x], dtype=dtype_name(dtype))


_TYPE_NAMES = {  # x.type("torch.FloatTensor")
    f"torch.{prefix}{kind}Tensor": dtype
    for kind, dtype in [("Float", "float32"), ("Double", "float64"), ("Half", "float16"),
                        ("Long", "int64"), ("Int", "int32"), ("Short", "int16"), ("Char", "int8"),
                        ("Byte", "uint8"), ("Bool", "bool"), ("BFloat16", "bfloat16")]
    for prefix in ("", "cuda.")
}


@method_rule("type")
def type_(b, x, dtype=None, non_blocking=False, **kwargs):
    if isinstance(dtype, torch.dtype):
        return b.emit(CAST, [x], dtype=dtype_name(dtype))
    if dtype in _TYPE_NAMES:
        return b.emit(CAST, [x], dtype=_TYPE_NAMES[dtype])
    raise b.unsupported(f"x.type({dtype!r})")


@method_rule("type_as")
def type_as(b, x, other):
    return b.emit(CAST, [x], dtype=b.dtype(other))


# ------------------------------------------------------------------ fused multiply-adds
@function_rule(torch.square)
@method_rule("square", "square_")
def square(b, x, *, out=None):
    """``x ** 2`` as Pow(x, 2), the spelling onnxruntime's norm fusions match."""
    return binary(b, POW, x, 2)


@function_rule(torch.addcmul)
@method_rule("addcmul", "addcmul_")
def addcmul(b, x, tensor1, tensor2, *, value=1, out=None):
    """``x + value * tensor1 * tensor2`` (ConvNeXt-V2's GRN), in torch's order of products."""
    product = binary(b, MUL, tensor1, tensor2)
    return binary(b, ADD, x, product if value == 1 else binary(b, MUL, product, value))


@function_rule(torch.addcdiv)
@method_rule("addcdiv", "addcdiv_")
def addcdiv(b, x, tensor1, tensor2, *, value=1, out=None):
    """``x + value * tensor1 / tensor2``."""
    quotient = b.emit(DIV, promote(b, tensor1, tensor2, dtype=float_dtype(b, tensor1, tensor2)))
    return binary(b, ADD, x, quotient if value == 1 else binary(b, MUL, quotient, value))
