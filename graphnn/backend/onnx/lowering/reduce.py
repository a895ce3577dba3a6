"""Lowerings of reductions.

ONNX moved the reduced axes from an attribute to an input: ReduceSum in opset 13,
the other Reduce* ops in opset 18. ``reduce`` writes whichever form the target opset
wants, so each lowering below is correct from opset 13 on. Norms of order 1 / 2 are
ReduceL1 / ReduceL2; var / std are the two-pass formula divided by N - correction
(N read at run time when a reduced dim is dynamic).
"""
import math

from graphnn.backend.onnx.context import onnx_dtype
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.reduce import AMAX, AMIN, ARGMAX, ARGMIN, LOGSUMEXP, MAX_DIM, MEAN, MIN_DIM, NORM, PROD, STD, SUM, VAR

AXES_INPUT_SINCE = {"ReduceSum": 13}  # every other Reduce* op: 18


def reduce(ctx, op_type, x, dims, keepdim, output=None):
    """One Reduce* node over ``dims`` (none: the input is 0-d, which reduces to itself)."""
    if ctx.opset >= AXES_INPUT_SINCE.get(op_type, 18):
        inputs = [x, ctx.const(dims, hint="axes")] if dims else [x]
        return ctx.add1(op_type, inputs, output, keepdims=int(keepdim))
    return ctx.add1(op_type, [x], output, axes=list(dims) or None, keepdims=int(keepdim))


_ONE_NODE = {SUM: "ReduceSum", PROD: "ReduceProd", MEAN: "ReduceMean", AMAX: "ReduceMax",
             AMIN: "ReduceMin", LOGSUMEXP: "ReduceLogSumExp"}


def _one_node(op_type):
    def lower(ctx, node):
        reduce(ctx, op_type, ctx.input(node), node.attrs["dims"], node.attrs["keepdim"], ctx.output(node))
    return lower


for _op, _op_type in _ONE_NODE.items():
    lowers(_op)(_one_node(_op_type))


@lowers(NORM)
def norm(ctx, node):
    x, dims, keepdim, out = ctx.input(node), node.attrs["dims"], node.attrs["keepdim"], ctx.output(node)
    p = node.attrs["p"]
    if p in (1.0, 2.0):
        reduce(ctx, "ReduceL1" if p == 1.0 else "ReduceL2", x, dims, keepdim, out)
    elif math.isinf(p):
        reduce(ctx, "ReduceMax" if p > 0 else "ReduceMin", ctx.add1("Abs", [x]), dims, keepdim, out)
    elif p == 0.0:  # the number of nonzero elements
        dtype = ctx.graph.values[node.inputs[0]].dtype
        nonzero = ctx.add1("Not", [ctx.add1("Equal", [x, ctx.const(0, dtype=dtype, hint="zero")])])
        reduce(ctx, "ReduceSum", ctx.add1("Cast", [nonzero], to=onnx_dtype(dtype)), dims, keepdim, out)
    else:
        dtype = ctx.graph.values[node.inputs[0]].dtype
        powered = ctx.add1("Pow", [ctx.add1("Abs", [x]), ctx.const(p, dtype=dtype, hint="p")])
        total = reduce(ctx, "ReduceSum", powered, dims, keepdim)
        ctx.add1("Pow", [total, ctx.const(1.0 / p, dtype=dtype, hint="inv_p")], out)


def _variance(ctx, node, output=None):
    x, dims, keepdim = ctx.input(node), node.attrs["dims"], node.attrs["keepdim"]
    centred = ctx.add1("Sub", [x, reduce(ctx, "ReduceMean", x, dims, True)])
    total = reduce(ctx, "ReduceSum", ctx.add1("Mul", [centred, centred]), dims, keepdim)
    return ctx.add1("Div", [total, _degrees_of_freedom(ctx, node)], output)


def _degrees_of_freedom(ctx, node):
    """max(0, N - correction) as a scalar of the input's dtype."""
    value = ctx.graph.values[node.inputs[0]]
    sizes = [value.shape[d] for d in node.attrs["dims"]]
    correction = node.attrs["correction"]
    if all(isinstance(s, int) for s in sizes):
        return ctx.const(max(0, math.prod(sizes) - correction), dtype=value.dtype, hint="dof")
    picked = ctx.add1("Gather", [ctx.add1("Shape", [ctx.input(node)]), ctx.const(node.attrs["dims"], hint="dims")])
    count = ctx.add1("Cast", [reduce(ctx, "ReduceProd", picked, [], False)], to=onnx_dtype(value.dtype))
    left = ctx.add1("Sub", [count, ctx.const(correction, dtype=value.dtype, hint="correction")])
    return ctx.add1("Max", [left, ctx.const(0, dtype=value.dtype, hint="zero")])


@lowers(VAR)
def var(ctx, node):
    _variance(ctx, node, ctx.output(node))


@lowers(STD)
def std(ctx, node):
    ctx.add1("Sqrt", [_variance(ctx, node)], ctx.output(node))


def _arg(op_type):
    def lower(ctx, node):
        ctx.add1(op_type, ctx.inputs(node), ctx.output(node), axis=node.attrs["dim"],
                 keepdims=int(node.attrs["keepdim"]))
    return lower


lowers(ARGMAX)(_arg("ArgMax"))
lowers(ARGMIN)(_arg("ArgMin"))


def _extreme(op_type, arg_type):
    """(values, indices): Reduce{Max,Min} and Arg{Max,Min} over the same dim."""
    def lower(ctx, node):
        dim, keepdim = node.attrs["dim"], node.attrs["keepdim"]
        values, indices = ctx.outputs(node)
        reduce(ctx, op_type, ctx.input(node), [dim], keepdim, values)
        ctx.add1(arg_type, ctx.inputs(node), indices, axis=dim, keepdims=int(keepdim))
    return lower


lowers(MAX_DIM)(_extreme("ReduceMax", "ArgMax"))
lowers(MIN_DIM)(_extreme("ReduceMin", "ArgMin"))
