"""Lowering of ``conv1d``/``conv2d``/``conv3d`` to ONNX Conv."""
from graphnn.backend.onnx.registry import lowers


@lowers("conv1d", "conv2d", "conv3d")
def conv(ctx, node):
    a = node.attrs
    weight = node.params["weight"]
    inputs = [ctx.input(node), ctx.param(node, "weight")]
    if node.params.get("bias") is not None:
        inputs.append(ctx.param(node, "bias"))
    ctx.add1(
        "Conv", inputs, ctx.output(node),
        kernel_shape=list(weight.shape[2:]), strides=list(a["stride"]),
        pads=list(a["padding"]) * 2, dilations=list(a["dilation"]), group=a["groups"],
    )
