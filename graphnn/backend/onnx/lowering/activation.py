"""Lowerings of activations that map one-to-one onto an ONNX op."""
from graphnn.backend.onnx.registry import lowers

_ONE_TO_ONE = {"relu": "Relu"}


def _one_to_one(onnx_op):
    def lower(ctx, node):
        ctx.add1(onnx_op, ctx.inputs(node), ctx.output(node))
    return lower


for _op, _onnx_op in _ONE_TO_ONE.items():
    lowers(_op)(_one_to_one(_onnx_op))
