"""Lowering of ``cumsum``: ONNX CumSum (opset 11+), its axis an int64 scalar input.
A 0-d input (torch allows it: the sum of one element) is unsqueezed and squeezed back."""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.cumulative import CUMSUM


@lowers(CUMSUM)
def cumsum(ctx, node):
    x = ctx.input(node)
    if ctx.graph.values[node.inputs[0]].shape:
        ctx.add1("CumSum", [x, ctx.const(node.attrs["dim"], hint="axis")], ctx.output(node))
        return
    row = ctx.add1("Unsqueeze", [x, ctx.const([0], hint="axes")])
    summed = ctx.add1("CumSum", [row, ctx.const(0, hint="axis")])
    ctx.add1("Squeeze", [summed, ctx.const([0], hint="axes")], ctx.output(node))
