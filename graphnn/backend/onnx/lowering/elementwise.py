"""Lowerings of elementwise ops.

Most are one ONNX node. The ones torch defines differently from ONNX are spelled
out: floor / truncating division and ``remainder`` (ONNX Div truncates ints, Mod on
floats is C's fmod), ``ne`` and ``rsqrt`` (no ONNX op), ``log1p`` and ``expm1`` (no ONNX op;
Kahan's corrections keep them exact near 0, where log(1 + x) and exp(x) - 1 lose every digit). ``add`` into a LayerNorm is a Sum,
so that onnxruntime keeps its faster unfused kernels (see ``add``).
"""
from graphnn.backend.onnx.context import onnx_dtype
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.elementwise import (ABS, ACOS, ACOSH, ADD, ASIN, ASINH, ATAN, ATANH, CAST, CEIL, CLAMP, COS, COSH, DIV,
                                     EQ, ERF, EXP, EXPM1, FLOOR, FLOORDIV, FMOD, GE, GT, ISINF, ISNAN, LE, LOG, LOG1P,
                                     LOGICAL_AND, LOGICAL_NOT, LOGICAL_OR, LOGICAL_XOR, LT, MAXIMUM, MINIMUM, MUL, NE, NEG,
                                     POW, RECIPROCAL, REMAINDER, ROUND, RSQRT, SIGN, SIN, SINH, SQRT, SUB, TAN, TRUNCDIV,
                                     WHERE)
from graphnn.ops.norm import LAYER_NORM
from graphnn.tensors import is_float

_ONE_NODE = {
    SUB: "Sub", MUL: "Mul", DIV: "Div", POW: "Pow",
    MAXIMUM: "Max", MINIMUM: "Min",
    EQ: "Equal", LT: "Less", LE: "LessOrEqual", GT: "Greater", GE: "GreaterOrEqual",
    LOGICAL_AND: "And", LOGICAL_OR: "Or", LOGICAL_XOR: "Xor", LOGICAL_NOT: "Not",
    WHERE: "Where",
    NEG: "Neg", ABS: "Abs", SIGN: "Sign", EXP: "Exp", LOG: "Log", SQRT: "Sqrt",
    RECIPROCAL: "Reciprocal", SIN: "Sin", COS: "Cos", ERF: "Erf",
    FLOOR: "Floor", CEIL: "Ceil", ROUND: "Round",
    TAN: "Tan", ASIN: "Asin", ACOS: "Acos", ATAN: "Atan", SINH: "Sinh", COSH: "Cosh",
    ASINH: "Asinh", ACOSH: "Acosh", ATANH: "Atanh", ISNAN: "IsNaN", ISINF: "IsInf",
}


def _one_node(onnx_op):
    def lower(ctx, node):
        ctx.add1(onnx_op, ctx.inputs(node), ctx.output(node))
    return lower


for _op, _onnx_op in _ONE_NODE.items():
    lowers(_op)(_one_node(_onnx_op))


def _is_float(ctx, node) -> bool:
    return is_float(ctx.graph.values[node.inputs[0]].dtype)


@lowers(ADD)
def add(ctx, node):
    """Add; Sum (the same sum) where a LayerNorm is its only reader. onnxruntime fuses an Add
    into a LayerNormalization as SkipLayerNormalization, whose CPU kernel (scalar, a division
    per element) ran 4x slower than the Add and LayerNormalization it replaces: 9.3 against
    2.3 ms per run over a 6-layer TransformerEncoder (d512, batch 4 x 64, one thread), which
    made the whole file 1.02-1.05x slower than one whose shapes onnxruntime cannot prove. Its
    pattern matches Add only."""
    op_type = "Sum" if _only_read_by_layer_norm(ctx, node) else "Add"
    ctx.add1(op_type, ctx.inputs(node), ctx.output(node))


def _only_read_by_layer_norm(ctx, node) -> bool:
    readers = ctx.graph.consumers(node.outputs[0])
    return (_is_float(ctx, node) and node.outputs[0] not in ctx.graph.outputs and len(readers) == 1
            and readers[0].op == LAYER_NORM.name and readers[0].inputs[0] == node.outputs[0])


@lowers(NE)
def ne(ctx, node):
    ctx.add1("Not", [ctx.add1("Equal", ctx.inputs(node))], ctx.output(node))


@lowers(RSQRT)
def rsqrt(ctx, node):
    ctx.add1("Reciprocal", [ctx.add1("Sqrt", ctx.inputs(node))], ctx.output(node))


@lowers(LOG1P)
def log1p(ctx, node):
    """u = 1 + x; x where u rounds to 1, else log(u) * x / (u - 1), which cancels u's rounding
    error (Kahan); u itself where it is infinite (the quotient would be inf / inf)."""
    x = ctx.input(node)
    one = ctx.const(1, dtype=ctx.graph.values[node.inputs[0]].dtype, hint="one")
    u = ctx.add1("Add", [x, one])
    corrected = ctx.add1("Div", [ctx.add1("Mul", [ctx.add1("Log", [u]), x]), ctx.add1("Sub", [u, one])])
    finite = ctx.add1("Where", [ctx.add1("IsInf", [u]), u, corrected])
    ctx.add1("Where", [ctx.add1("Equal", [u, one]), x, finite], ctx.output(node))


@lowers(EXPM1)
def expm1(ctx, node):
    """u = exp(x); x where u rounds to 1, else (u - 1) * x / log(u) (Kahan); u - 1 where u is
    0 or infinite (the quotient would be 0 * x / -inf or inf / inf)."""
    x = ctx.input(node)
    dtype = ctx.graph.values[node.inputs[0]].dtype
    one, zero = ctx.const(1, dtype=dtype, hint="one"), ctx.const(0, dtype=dtype, hint="zero")
    u = ctx.add1("Exp", [x])
    u_minus_one = ctx.add1("Sub", [u, one])
    corrected = ctx.add1("Div", [ctx.add1("Mul", [u_minus_one, x]), ctx.add1("Log", [u])])
    extreme = ctx.add1("Or", [ctx.add1("IsInf", [u]), ctx.add1("Equal", [u, zero])])
    plain = ctx.add1("Where", [extreme, u_minus_one, corrected])
    ctx.add1("Where", [ctx.add1("Equal", [u, one]), x, plain], ctx.output(node))


@lowers(FLOORDIV)
def floordiv(ctx, node):
    """Floats: floor(a / b). Ints: (a - a mod b) / b, exact, where Mod follows the divisor's
    sign as Python's // does (plain Div would truncate negative quotients)."""
    a, b = ctx.inputs(node)
    if _is_float(ctx, node):
        ctx.add1("Floor", [ctx.add1("Div", [a, b])], ctx.output(node))
        return
    exact = ctx.add1("Sub", [a, ctx.add1("Mod", [a, b], fmod=0)])
    ctx.add1("Div", [exact, b], ctx.output(node))


@lowers(TRUNCDIV)
def truncdiv(ctx, node):
    """Ints: ONNX Div already truncates. Floats: sign(q) * floor(|q|) (ONNX has no Trunc)."""
    if not _is_float(ctx, node):
        ctx.add1("Div", ctx.inputs(node), ctx.output(node))
        return
    quotient = ctx.add1("Div", ctx.inputs(node))
    magnitude = ctx.add1("Floor", [ctx.add1("Abs", [quotient])])
    ctx.add1("Mul", [ctx.add1("Sign", [quotient]), magnitude], ctx.output(node))


@lowers(FMOD)
def fmod(ctx, node):
    ctx.add1("Mod", ctx.inputs(node), ctx.output(node), fmod=1)


@lowers(REMAINDER)
def remainder(ctx, node):
    """Python's %: the sign of the divisor. Ints: Mod(fmod=0). Floats: C's fmod, then
    + b where the result is nonzero and its sign differs from b's (as torch computes it)."""
    a, b = ctx.inputs(node)
    if not _is_float(ctx, node):
        ctx.add1("Mod", [a, b], ctx.output(node), fmod=0)
        return
    mod = ctx.add1("Mod", [a, b], fmod=1)
    zero = ctx.const(0, dtype=ctx.graph.values[node.inputs[0]].dtype, hint="zero")
    nonzero = ctx.add1("Not", [ctx.add1("Equal", [mod, zero])])
    signs_differ = ctx.add1("Xor", [ctx.add1("Less", [b, zero]), ctx.add1("Less", [mod, zero])])
    fix = ctx.add1("And", [nonzero, signs_differ])
    ctx.add1("Where", [fix, ctx.add1("Add", [mod, b]), mod], ctx.output(node))


@lowers(CLAMP)
def clamp(ctx, node):
    """Clip with its bounds as inputs (opset 11+), "" for a missing one."""
    dtype = ctx.graph.values[node.inputs[0]].dtype
    bounds = [ctx.const(node.attrs[k], dtype=dtype, hint=k) if node.attrs[k] is not None else ""
              for k in ("min", "max")]
    ctx.add1("Clip", [ctx.input(node), *bounds], ctx.output(node))


@lowers(CAST)
def cast(ctx, node):
    ctx.add1("Cast", ctx.inputs(node), ctx.output(node), to=onnx_dtype(node.attrs["dtype"]))
