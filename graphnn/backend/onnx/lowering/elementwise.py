"""Lowerings of broadcasting binary arithmetic."""
from graphnn.backend.onnx.registry import lowers

_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow"}


def _binary(onnx_op):
    def lower(ctx, node):
        ctx.add1(onnx_op, ctx.inputs(node), ctx.output(node))
    return lower


for _op, _onnx_op in _BINARY.items():
    lowers(_op)(_binary(_onnx_op))


@lowers("floordiv")
def floordiv(ctx, node):
    """Integer floor division (shape arithmetic); ONNX Div truncates, equal for sizes >= 0."""
    ctx.add1("Div", ctx.inputs(node), ctx.output(node))
