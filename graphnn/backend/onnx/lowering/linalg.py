"""Lowering of ``det`` to ONNX Det (opset 11+), which takes batches of square matrices."""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.linalg import DET


@lowers(DET)
def det(ctx, node):
    ctx.add1("Det", ctx.inputs(node), ctx.output(node))
