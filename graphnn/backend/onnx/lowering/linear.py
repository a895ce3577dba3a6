"""Lowerings of ``linear`` (Gemm for 2-d inputs, MatMul + Add otherwise), ``matmul``,
``bilinear`` and ``einsum`` (ONNX Einsum, opset 12+)."""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.linear import BILINEAR, EINSUM, LINEAR, MATMUL


@lowers(LINEAR)
def linear(ctx, node):
    x = ctx.input(node)
    weight = node.params["weight"]
    bias = node.params.get("bias")
    if len(ctx.graph.values[node.inputs[0]].shape) == 2:
        inputs = [x, ctx.param(node, "weight")] + ([ctx.param(node, "bias")] if bias is not None else [])
        ctx.add1("Gemm", inputs, ctx.output(node), transB=1)
        return
    tied = ctx.existing_initializer(weight)  # GPT-2's LM head is the token embedding
    if tied is not None:  # one copy in the file; onnxruntime folds the Transpose at load
        weight_t = ctx.add1("Transpose", [tied], perm=[1, 0])
    else:
        prefix = node.module or node.name
        weight_t = ctx.initializer(f"{prefix}.weight_t", weight.t())  # a view: written transposed, no copy
    if bias is None:
        ctx.add1("MatMul", [x, weight_t], ctx.output(node))
        return
    product = ctx.add1("MatMul", [x, weight_t])
    ctx.add1("Add", [product, ctx.param(node, "bias")], ctx.output(node))


@lowers(MATMUL)
def matmul(ctx, node):
    ctx.add1("MatMul", ctx.inputs(node), ctx.output(node))


@lowers(BILINEAR)
def bilinear(ctx, node):
    """y = x1^T W x2 + b as one Einsum over W (out, in1, in2), then Add."""
    x1, x2 = ctx.inputs(node)
    operands = [x1, ctx.param(node, "weight"), x2]
    if node.params.get("bias") is None:
        ctx.add1("Einsum", operands, ctx.output(node), equation="...i,oij,...j->...o")
        return
    product = ctx.add1("Einsum", operands, equation="...i,oij,...j->...o")
    ctx.add1("Add", [product, ctx.param(node, "bias")], ctx.output(node))


@lowers(EINSUM)
def einsum(ctx, node):
    ctx.add1("Einsum", ctx.inputs(node), ctx.output(node), equation=node.attrs["equation"])
