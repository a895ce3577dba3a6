"""Lowerings of normalisation ops.

Direct ONNX ops where the target opset has one that computes what torch does:
BatchNormalization, InstanceNormalization, LRN, LayerNormalization (17+),
GroupNormalization with per-channel scale (21+; the 18 form scales per group),
RMSNormalization (23+). Below those, and for batch statistics and F.normalize, a
decomposition: ReduceMean / Sub / Mul / Add / Sqrt / Div with biased variance, as torch
computes it. An eval BatchNorm the passes could not fold into a conv/linear is one
BatchNormalization node.
"""
import math

import torch

from graphnn.backend.onnx.registry import lowers
from graphnn.ops.norm import (BATCH_NORM, BATCH_STATS_NORM, GROUP_NORM, INSTANCE_NORM, LAYER_NORM, LP_NORMALIZE, LRN,
                              RMS_NORM)
from graphnn.tensors import torch_dtype


# ------------------------------------------------------------------ helpers
def _x(ctx, node):
    """The IR value of the node's input (shape and dtype)."""
    return ctx.graph.values[node.inputs[0]]


def _scalar(ctx, node, value, hint):
    return ctx.const(value, dtype=_x(ctx, node).dtype, hint=hint)


def _step(op_type, *extra_inputs, **attrs):
    """One link of a chain: ``op_type(previous, *extra_inputs, **attrs)``."""
    return op_type, extra_inputs, attrs


def _chain(ctx, node, x, steps):
    """Apply steps one after another to x; the last one writes the node's output."""
    for i, (op_type, extra, attrs) in enumerate(steps):
        out = ctx.output(node) if i == len(steps) - 1 else None
        x = ctx.add1(op_type, [x, *extra], out, **attrs)


def _reduce(ctx, op_type, x, axes):
    """A keepdims Reduce*: axes are an attribute before opset 18 (ReduceSum: 13), an input after."""
    if op_type == "ReduceSum" or ctx.opset >= 18:
        return ctx.add1(op_type, [x, ctx.const(axes, hint="axes")], keepdims=1)
    return ctx.add1(op_type, [x], axes=list(axes), keepdims=1)


def _moments(ctx, node, x, axes, center=True):
    """(x - mean, sqrt(var + eps)) over axes; uncentred (RMS): (x, sqrt(mean(x^2) + eps))."""
    if center:
        x = ctx.add1("Sub", [x, _reduce(ctx, "ReduceMean", x, axes)])
    square = ctx.add1("Pow", [x, _scalar(ctx, node, 2.0, "two")])  # Pow, not Mul: onnxruntime's LayerNorm fusions match it
    power = _reduce(ctx, "ReduceMean", square, axes)
    return x, ctx.add1("Sqrt", [ctx.add1("Add", [power, _scalar(ctx, node, node.attrs["eps"], "eps")])])


def _affine(ctx, node, view, keys=("weight", "bias")):
    """Steps multiplying by the first param and adding the second (those present), each
    reshaped to ``view``."""
    return [_step(op, ctx.param(node, key, node.params[key].reshape(view)))
            for op, key in zip(("Mul", "Add"), keys) if key in node.params]


def _affine_inputs(ctx, node, shape, keys=("weight", "bias")):
    """Initializers for an ONNX op's scale and bias inputs: ones / zeros when the layer has none."""
    dtype = torch_dtype(_x(ctx, node).dtype)
    default = {"weight": torch.ones, "bias": torch.zeros}
    return [ctx.param(node, key, node.params[key] if key in node.params else default[key](shape, dtype=dtype))
            for key in keys]


def _channel_view(rank):
    """Per-channel params shaped (C, 1, ..., 1) to broadcast over (N, C, ...)."""
    return (-1,) + (1,) * (rank - 2)


def _channels(ctx, node):
    return _x(ctx, node).shape[1]


def _trailing_axes(ctx, node):
    rank = len(_x(ctx, node).shape)
    return list(range(rank - len(node.attrs["normalized_shape"]), rank))


# ------------------------------------------------------------ batch statistics
@lowers(BATCH_NORM)
def batch_norm(ctx, node):
    scale, shift = _affine_inputs(ctx, node, (node.params["running_mean"].shape[0],))
    inputs = [ctx.input(node), scale, shift, ctx.param(node, "running_mean"), ctx.param(node, "running_var")]
    ctx.add1("BatchNormalization", inputs, ctx.output(node), epsilon=float(node.attrs["eps"]))


@lowers(BATCH_STATS_NORM)
def batch_stats_norm(ctx, node):
    """Mean and variance per channel over the batch and spatial dims."""
    rank = len(_x(ctx, node).shape)
    centered, std = _moments(ctx, node, ctx.input(node), [0, *range(2, rank)])
    _chain(ctx, node, centered, [_step("Div", std), *_affine(ctx, node, _channel_view(rank))])


@lowers(INSTANCE_NORM)
def instance_norm(ctx, node):
    scale, bias = _affine_inputs(ctx, node, (_channels(ctx, node),))
    ctx.add1("InstanceNormalization", [ctx.input(node), scale, bias], ctx.output(node),
             epsilon=node.attrs["eps"])


# ------------------------------------------------------------ layer / rms / group
@lowers(LAYER_NORM)
def layer_norm(ctx, node):
    centered, std = _moments(ctx, node, ctx.input(node), _trailing_axes(ctx, node))
    _chain(ctx, node, centered, [_step("Div", std), *_affine(ctx, node, node.attrs["normalized_shape"])])


@lowers(LAYER_NORM, since=17)
def layer_norm_17(ctx, node):
    shape = node.attrs["normalized_shape"]
    ctx.add1("LayerNormalization", [ctx.input(node), *_affine_inputs(ctx, node, shape)],
             ctx.output(node), axis=-len(shape), epsilon=node.attrs["eps"])


@lowers(RMS_NORM)
def rms_norm(ctx, node):
    x, rms = _moments(ctx, node, ctx.input(node), _trailing_axes(ctx, node), center=False)
    _chain(ctx, node, x, [_step("Div", rms), *_affine(ctx, node, node.attrs["normalized_shape"])])


@lowers(RMS_NORM, since=23)
def rms_norm_23(ctx, node):
    shape = node.attrs["normalized_shape"]
    ctx.add1("RMSNormalization", [ctx.input(node), *_affine_inputs(ctx, node, shape, keys=("weight",))],
             ctx.output(node), axis=-len(shape), epsilon=node.attrs["eps"])


@lowers(GROUP_NORM)
def group_norm(ctx, node):
    """Normalise (N, G, C/G * spatial), view back as the input, then the per-channel affine."""
    x = ctx.input(node)
    grouped = ctx.add1("Reshape", [x, ctx.const([0, node.attrs["num_groups"], -1], hint="groups")])
    centered, std = _moments(ctx, node, grouped, [2])
    steps = [_step("Div", std), _step("Reshape", ctx.add1("Shape", [x])),
             *_affine(ctx, node, _channel_view(len(_x(ctx, node).shape)))]
    _chain(ctx, node, centered, steps)


@lowers(GROUP_NORM, since=21)
def group_norm_21(ctx, node):
    inputs = [ctx.input(node), *_affine_inputs(ctx, node, (_channels(ctx, node),))]
    ctx.add1("GroupNormalization", inputs, ctx.output(node),
             num_groups=node.attrs["num_groups"], epsilon=node.attrs["eps"])


# ------------------------------------------------------------- lrn / normalize
@lowers(LRN)
def lrn(ctx, node):
    """ONNX LRN scales alpha by 1/size as torch does. onnxruntime runs it on 4-d inputs only,
    so other ranks are viewed as (N, C, -1, 1); it takes odd sizes only, and with an even
    size ONNX's window sits one channel off torch's, so even sizes are decomposed."""
    a = node.attrs
    if a["size"] % 2 == 0:
        return _lrn_by_pooling(ctx, node)
    steps = [_step("LRN", size=a["size"], alpha=a["alpha"], beta=a["beta"], bias=a["k"])]
    x = ctx.input(node)
    if len(_x(ctx, node).shape) != 4:
        steps = [_step("Reshape", ctx.const([0, 0, -1, 1], hint="shape")), *steps,
                 _step("Reshape", ctx.add1("Shape", [x]))]
    _chain(ctx, node, x, steps)


def _lrn_by_pooling(ctx, node):
    """torch's own formula: x / (k + alpha * mean of x^2 over a channel window)^beta, the
    window padded by size//2 channels before and (size-1)//2 after."""
    a, size, x = node.attrs, node.attrs["size"], ctx.input(node)
    squares = ctx.add1("Mul", [x, x])
    planes = ctx.add1("Reshape", [squares, ctx.const([0, 1, _channels(ctx, node), -1], hint="shape")])
    pads = ctx.const([0, 0, size // 2, 0, 0, 0, (size - 1) // 2, 0], hint="pads")
    mean = ctx.add1("AveragePool", [ctx.add1("Pad", [planes, pads])], kernel_shape=[size, 1])
    window = ctx.add1("Reshape", [mean, ctx.add1("Shape", [x])])
    scaled = ctx.add1("Add", [ctx.add1("Mul", [window, _scalar(ctx, node, a["alpha"], "alpha")]),
                              _scalar(ctx, node, a["k"], "k")])
    denominator = ctx.add1("Pow", [scaled, _scalar(ctx, node, a["beta"], "beta")])
    ctx.add1("Div", [x, denominator], ctx.output(node))


_REDUCE_NORMS = {1.0: "ReduceL1", 2.0: "ReduceL2"}


def _p_norm(ctx, node, x, axes):
    """||x||_p along axes (keepdims): ReduceL1 / ReduceL2, max |x| for p=inf, else by Pow."""
    p = node.attrs["p"]
    if p in _REDUCE_NORMS:
        return _reduce(ctx, _REDUCE_NORMS[p], x, axes)
    magnitude = ctx.add1("Abs", [x])
    if math.isinf(p):
        return _reduce(ctx, "ReduceMax", magnitude, axes)
    powered = ctx.add1("Pow", [magnitude, _scalar(ctx, node, p, "p")])
    return ctx.add1("Pow", [_reduce(ctx, "ReduceSum", powered, axes), _scalar(ctx, node, 1 / p, "inv_p")])


@lowers(LP_NORMALIZE)
def lp_normalize(ctx, node):
    """x / max(||x||_p, eps): LpNormalization has no eps, so it is decomposed."""
    dim = node.attrs["dim"] % len(_x(ctx, node).shape)
    norm = _p_norm(ctx, node, ctx.input(node), [dim])
    clamped = ctx.add1("Max", [norm, _scalar(ctx, node, node.attrs["eps"], "eps")])
    ctx.add1("Div", [ctx.input(node), clamped], ctx.output(node))
