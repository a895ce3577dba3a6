"""Lowerings of activations.

Where ONNX has an op with torch's exact semantics the lowering is one node, from the
table below (Gelu, Mish and HardSwish only from the opset that introduced them). The
rest, and those ops at older opsets, are decomposed into elementary ONNX ops; their
constants take the input's dtype.
"""
import math

from graphnn.backend.onnx.context import onnx_dtype
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.activation import (CELU, ELU, GELU, GLU, HARDSHRINK, HARDSIGMOID, HARDSWISH, HARDTANH, LEAKY_RELU,
                                    LOGSIGMOID, LOG_SOFTMAX, MISH, PRELU, RELU, SELU, SIGMOID, SILU, SOFTMAX, SOFTMIN,
                                    SOFTPLUS, SOFTSHRINK, SOFTSIGN, TANH, TANHSHRINK, THRESHOLD)

_NO_ATTRS = lambda attrs: {}  # noqa: E731

# (op, first opset) -> (ONNX op, IR attrs -> ONNX attrs)
_DIRECT = {
    (RELU, 1): ("Relu", _NO_ATTRS),
    (LEAKY_RELU, 1): ("LeakyRelu", lambda a: {"alpha": a["negative_slope"]}),
    (ELU, 1): ("Elu", lambda a: {"alpha": a["alpha"]}),
    (SELU, 1): ("Selu", _NO_ATTRS),  # ONNX's default alpha and gamma are torch's constants
    (CELU, 1): ("Celu", lambda a: {"alpha": a["alpha"]}),
    (SIGMOID, 1): ("Sigmoid", _NO_ATTRS),
    (TANH, 1): ("Tanh", _NO_ATTRS),
    (SOFTSIGN, 1): ("Softsign", _NO_ATTRS),
    (HARDSIGMOID, 1): ("HardSigmoid", lambda a: {"alpha": 1 / 6, "beta": 0.5}),
    (HARDSHRINK, 1): ("Shrink", lambda a: {"lambd": a["lambd"], "bias": 0.0}),
    (SOFTSHRINK, 1): ("Shrink", lambda a: {"lambd": a["lambd"], "bias": a["lambd"]}),
    (HARDSWISH, 14): ("HardSwish", _NO_ATTRS),
    (MISH, 18): ("Mish", _NO_ATTRS),
    (GELU, 20): ("Gelu", lambda a: {"approximate": a["approximate"]}),
}


def _direct(onnx_op, onnx_attrs):
    def lower(ctx, node):
        ctx.add1(onnx_op, ctx.inputs(node), ctx.output(node), **onnx_attrs(node.attrs))
    return lower


for (_op, _since), (_onnx_op, _attrs) in _DIRECT.items():
    lowers(_op, since=_since)(_direct(_onnx_op, _attrs))


def _scalar(ctx, node, value, hint):
    """A 0-d constant of the input's dtype (ONNX does not promote types)."""
    return ctx.const(value, dtype=ctx.graph.values[node.inputs[0]].dtype, hint=hint)


# ------------------------------------------------------------ piecewise linear
@lowers(HARDTANH)
def hardtanh(ctx, node):
    """Clip, whose bounds are inputs since opset 11."""
    low = _scalar(ctx, node, node.attrs["min_val"], "min")
    high = _scalar(ctx, node, node.attrs["max_val"], "max")
    ctx.add1("Clip", [ctx.input(node), low, high], ctx.output(node))


@lowers(PRELU)
def prelu(ctx, node):
    """PRelu broadcasts its slope from the right, so per-channel slopes become
    (C, 1, ..., 1) to land on dim 1; a single slope becomes a 0-d one."""
    weight = node.params["weight"]
    rank = len(ctx.graph.values[node.inputs[0]].shape)
    slope = weight.reshape(()) if weight.numel() == 1 else weight.reshape(-1, *(1,) * (rank - 2))
    ctx.add1("PRelu", [ctx.input(node), ctx.param(node, "weight", slope)], ctx.output(node))


@lowers(THRESHOLD)
def threshold(ctx, node):
    """torch: x where x > threshold, else value."""
    x = ctx.input(node)
    above = ctx.add1("Greater", [x, _scalar(ctx, node, node.attrs["threshold"], "threshold")])
    ctx.add1("Where", [above, x, _scalar(ctx, node, node.attrs["value"], "value")], ctx.output(node))


# ------------------------------------------------------------------ smooth
@lowers(SILU)
def silu(ctx, node):
    x = ctx.input(node)
    ctx.add1("Mul", [x, ctx.add1("Sigmoid", [x])], ctx.output(node))


@lowers(LOGSIGMOID)
def logsigmoid(ctx, node):
    """-softplus(-x): stays finite where Log(Sigmoid(x)) would underflow to -inf."""
    negated = ctx.add1("Neg", [ctx.input(node)])
    ctx.add1("Neg", [ctx.add1("Softplus", [negated])], ctx.output(node))


@lowers(TANHSHRINK)
def tanhshrink(ctx, node):
    x = ctx.input(node)
    ctx.add1("Sub", [x, ctx.add1("Tanh", [x])], ctx.output(node))


@lowers(HARDSWISH)
def hardswish(ctx, node):
    """Before opset 14: x * hardsigmoid(x), with torch's slope 1/6 and offset 1/2."""
    x = ctx.input(node)
    ctx.add1("Mul", [x, ctx.add1("HardSigmoid", [x], alpha=1 / 6, beta=0.5)], ctx.output(node))


@lowers(MISH)
def mish(ctx, node):
    """Before opset 18: x * tanh(softplus(x))."""
    x = ctx.input(node)
    ctx.add1("Mul", [x, ctx.add1("Tanh", [ctx.add1("Softplus", [x])])], ctx.output(node))


@lowers(SOFTPLUS)
def softplus(ctx, node):
    """torch: log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold.

    ONNX Softplus has neither parameter. With beta 1 and a threshold of 20 or more,
    the two branches differ by under exp(-20) = 2e-9, so Softplus alone is torch's
    result; otherwise the branches are built with Where.
    """
    x, beta, limit = ctx.input(node), node.attrs["beta"], node.attrs["threshold"]
    if beta == 1 and limit >= 20:
        ctx.add1("Softplus", [x], ctx.output(node))
        return
    if beta == 1:
        scaled, smooth = x, ctx.add1("Softplus", [x])
    else:
        beta = _scalar(ctx, node, beta, "beta")
        scaled = ctx.add1("Mul", [x, beta])
        smooth = ctx.add1("Div", [ctx.add1("Softplus", [scaled]), beta])
    linear = ctx.add1("Greater", [scaled, _scalar(ctx, node, limit, "threshold")])
    ctx.add1("Where", [linear, x, smooth], ctx.output(node))


@lowers(GELU)
def gelu(ctx, node):
    """Before opset 20: 0.5 * x * (1 + erf(x / sqrt 2)), or with approximate='tanh'
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))."""
    x = ctx.input(node)
    if node.attrs["approximate"] == "tanh":
        cube = ctx.add1("Pow", [x, _scalar(ctx, node, 3.0, "three")])
        inner = ctx.add1("Add", [x, ctx.add1("Mul", [cube, _scalar(ctx, node, 0.044715, "coef")])])
        scaled = ctx.add1("Mul", [inner, _scalar(ctx, node, math.sqrt(2 / math.pi), "scale")])
        curve = ctx.add1("Tanh", [scaled])
    else:
        curve = ctx.add1("Erf", [ctx.add1("Div", [x, _scalar(ctx, node, math.sqrt(2.0), "sqrt2")])])
    gate = ctx.add1("Add", [curve, _scalar(ctx, node, 1.0, "one")])
    half_x = ctx.add1("Mul", [x, _scalar(ctx, node, 0.5, "half")])
    ctx.add1("Mul", [half_x, gate], ctx.output(node))


# ---------------------------------------------------------- over one dim
_SOFTMAX = {  # op -> (ONNX op, negate the input first)
    SOFTMAX: ("Softmax", False),
    LOG_SOFTMAX: ("LogSoftmax", False),
    SOFTMIN: ("Softmax", True),
}


def _softmax(onnx_op, negate):
    """ONNX Softmax works on one axis since opset 13, as torch's does. The input is
    cast first when torch's dtype= asked for another result dtype."""
    def lower(ctx, node):
        x = ctx.input(node)
        if ctx.graph.values[node.inputs[0]].dtype != node.attrs["dtype"]:
            x = ctx.add1("Cast", [x], to=onnx_dtype(node.attrs["dtype"]))
        if negate:
            x = ctx.add1("Neg", [x])
        ctx.add1(onnx_op, [x], ctx.output(node), axis=node.attrs["dim"])
    return lower


for _op, (_onnx_op, _negate) in _SOFTMAX.items():
    lowers(_op)(_softmax(_onnx_op, _negate))


@lowers(GLU)
def glu(ctx, node):
    """First half * sigmoid(second half) along dim."""
    dim = node.attrs["dim"]
    half = ctx.graph.values[node.inputs[0]].shape[dim] // 2
    first, second = ctx.add("Split", [ctx.input(node), ctx.const([half, half], hint="split")], 2, axis=dim)
    ctx.add1("Mul", [first, ctx.add1("Sigmoid", [second])], ctx.output(node))
