"""Lowering of ``conv{1,2,3}d`` and ``computed_conv{1,2,3}d`` (weight and bias as inputs:
ONNX Conv takes any tensor as W and B) to ONNX Conv, ``conv_transpose{1,2,3}d`` and
``computed_conv_transpose{1,2,3}d`` to ConvTranspose.

The IR pads are already ONNX's [begin..., end...]; transposed convs give explicit pads
and output_padding (never auto_pad or output_shape), so the result matches torch's formula.
"""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.conv import (COMPUTED_CONV1D, COMPUTED_CONV2D, COMPUTED_CONV3D, COMPUTED_CONV_TRANSPOSE1D,
                              COMPUTED_CONV_TRANSPOSE2D, COMPUTED_CONV_TRANSPOSE3D, CONV1D, CONV2D, CONV3D,
                              CONV_TRANSPOSE1D, CONV_TRANSPOSE2D, CONV_TRANSPOSE3D)


def _weights(ctx, node) -> list:
    inputs = [ctx.input(node), ctx.param(node, "weight")]
    if node.params.get("bias") is not None:
        inputs.append(ctx.param(node, "bias"))
    return inputs


def _window_attrs(node, kernel=None) -> dict:
    a = node.attrs
    kernel = list(node.params["weight"].shape[2:]) if kernel is None else kernel
    return dict(kernel_shape=kernel, strides=list(a["stride"]),
                pads=list(a["pads"]), dilations=list(a["dilation"]), group=a["groups"])


@lowers(CONV1D, CONV2D, CONV3D)
def conv(ctx, node):
    ctx.add1("Conv", _weights(ctx, node), ctx.output(node), **_window_attrs(node))


@lowers(COMPUTED_CONV1D, COMPUTED_CONV2D, COMPUTED_CONV3D)
def computed_conv(ctx, node):
    ctx.add1("Conv", ctx.inputs(node), ctx.output(node), **_window_attrs(node, list(node.attrs["kernel"])))


@lowers(CONV_TRANSPOSE1D, CONV_TRANSPOSE2D, CONV_TRANSPOSE3D)
def conv_transpose(ctx, node):
    ctx.add1("ConvTranspose", _weights(ctx, node), ctx.output(node), **_window_attrs(node),
             output_padding=list(node.attrs["output_padding"]))


@lowers(COMPUTED_CONV_TRANSPOSE1D, COMPUTED_CONV_TRANSPOSE2D, COMPUTED_CONV_TRANSPOSE3D)
def computed_conv_transpose(ctx, node):
    ctx.add1("ConvTranspose", ctx.inputs(node), ctx.output(node), **_window_attrs(node, list(node.attrs["kernel"])),
             output_padding=list(node.attrs["output_padding"]))
