"""Lowerings of constants, identity, dropout (eval: Identity) and size queries."""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.structural import CONSTANT, DROPOUT, IDENTITY, SIZE


@lowers(CONSTANT)
def constant(ctx, node):
    """A constant is an initializer; readers use it directly, no node needed."""
    ctx.alias(node.outputs[0], ctx.param(node, "value"))


@lowers(IDENTITY, DROPOUT)
def identity(ctx, node):
    ctx.add1("Identity", ctx.inputs(node), ctx.output(node))


@lowers(SIZE)
def size(ctx, node):
    """x.size(d): Shape, then Gather of one index gives an int64 scalar."""
    shape = ctx.add1("Shape", ctx.inputs(node))
    ctx.add1("Gather", [shape, ctx.const(node.attrs["dim"], hint="dim")], ctx.output(node), axis=0)
