"""A toy op added the way a plugin adds one: one OpDef, one frontend rule, one lowering,
and nothing else in graphnn touched. tests/test_op_plugin.py imports it and undoes it."""
import math

import torch

from graphnn.backend.onnx.registry import lowers
from graphnn.frontend.rules import function_rule
from graphnn.ops import TensorType, define


@torch.fx.wrap  # fx keeps the call whole, so the rule below sees it
def softsign2(x: torch.Tensor) -> torch.Tensor:
    """What the user's model calls: twice torch's softsign."""
    return x / (1 + x.abs()) * 2


def same_as_input(node, x):
    return TensorType(x.shape, x.dtype)


def one_product_per_element(ins, outs, params):
    return math.prod(outs[0])


SOFTSIGN2 = define("softsign2", shape=same_as_input, macs=one_product_per_element)


@function_rule(softsign2)
def softsign2_rule(b, x):
    return b.emit(SOFTSIGN2, [x])


@lowers(SOFTSIGN2)
def lower_softsign2(ctx, node):
    dtype = ctx.graph.values[node.inputs[0]].dtype
    soft = ctx.add1("Softsign", ctx.inputs(node))
    ctx.add1("Mul", [soft, ctx.const(2.0, dtype=dtype, hint="two")], ctx.output(node))
