"""Rules for nn.Linear and matrix products (``torch.matmul``, ``@``, ``x.matmul``)."""
import operator

import torch
import torch.nn as nn

from graphnn.frontend.rules import function_rule, method_rule, module_rule


@module_rule(nn.Linear)
def linear_layer(b, module, x):
    return b.emit("linear", [x], params={"weight": module.weight, "bias": module.bias})


@function_rule(torch.matmul, operator.matmul, torch.mm, torch.bmm)
@method_rule("matmul", "mm", "bmm")
def matmul(b, a, other):
    return b.emit("matmul", [a, other])
