"""Lowering of ``max_pool{1,2,3}d`` to ONNX MaxPool."""
from graphnn.backend.onnx.registry import lowers


@lowers("max_pool1d", "max_pool2d", "max_pool3d")
def max_pool(ctx, node):
    a = node.attrs
    ctx.add1(
        "MaxPool", ctx.inputs(node), ctx.output(node),
        kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=list(a["padding"]) * 2,
        dilations=list(a["dilation"]), ceil_mode=int(a["ceil_mode"]),
    )
