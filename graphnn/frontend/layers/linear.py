"""Rules for dense layers and matrix products: nn.Linear / F.linear, nn.Bilinear /
F.bilinear, ``torch.matmul`` / ``@`` / mm / bmm, addmm / baddbmm and ``torch.einsum``.

``F.linear(x, self.weight, self.bias)`` on parameters becomes the same ``linear`` op as
nn.Linear (so fold_batchnorm treats both alike); a weight computed in the graph becomes
transpose + matmul (+ add).
"""
import operator

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.elementwise import binary, cast, promote
from graphnn.frontend.rules import function_rule, function_rule_for, method_rule, method_rule_for, module_rule
from graphnn.ops.elementwise import ADD, MUL
from graphnn.ops.linear import BILINEAR, EINSUM, LINEAR, MATMUL
from graphnn.ops.shape import TRANSPOSE
from graphnn.tensors import dtype_name


@module_rule(nn.Linear)
def linear_layer(b, module, x):
    return b.emit(LINEAR, [x], params={"weight": module.weight, "bias": module.bias})


@function_rule(F.linear)
def linear(b, x, weight, bias=None):
    w, bias_value = b.constant_value(weight), b.constant_value(bias)
    if w is not None and (bias is None or bias_value is not None):
        return b.emit(LINEAR, [x], params={"weight": w, "bias": bias_value})
    rank = b.rank(weight)
    weight_t = b.emit(TRANSPOSE, [weight], perm=[1, 0]) if rank == 2 else weight
    out = matmul(b, x, weight_t)
    return out if bias is None else binary(b, ADD, out, bias)


@module_rule(nn.Bilinear)
def bilinear_layer(b, module, x1, x2):
    return b.emit(BILINEAR, promote(b, x1, x2), params={"weight": module.weight, "bias": module.bias})


@function_rule(F.bilinear)
def bilinear(b, x1, x2, weight, bias=None):
    w, bias_value = b.constant_value(weight), b.constant_value(bias)
    if w is None or (bias is not None and bias_value is None):
        raise b.unsupported("F.bilinear with a weight or bias computed in the graph")
    return b.emit(BILINEAR, promote(b, x1, x2), params={"weight": w, "bias": bias_value})


@function_rule(torch.matmul, operator.matmul, torch.mm, torch.bmm)
@method_rule("matmul", "mm", "bmm", "__matmul__")
def matmul(b, a, other, *, out=None):
    return b.emit(MATMUL, promote(b, a, other))


@function_rule(torch.addmm, torch.baddbmm)
@method_rule("addmm", "baddbmm")
def addmm(b, input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2), scaling only when a factor is not 1."""
    product = matmul(b, mat1, mat2)
    if alpha != 1:
        product = binary(b, MUL, product, alpha)
    if beta != 1:
        input = binary(b, MUL, input, beta)
    return binary(b, ADD, input, product) if beta != 0 else product


@function_rule(torch.einsum)
def einsum(b, equation, *operands):
    """torch.einsum("ij,jk", a, b) or ("ij,jk", [a, b]); the op gets an explicit ``->``."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return b.emit(EINSUM, promote(b, *operands), equation=explicit_equation(b, equation))


def explicit_equation(b, equation: str) -> str:
    """Spaces removed; without ``->`` the output is the letters used once, sorted, after
    the ellipsis (torch's implicit mode)."""
    equation = equation.replace(" ", "")
    if "->" in equation:
        return equation
    letters = [c for c in equation if c.isalpha()]
    once = sorted(c for c in set(letters) if letters.count(c) == 1)
    return f"{equation}->{'...' if '...' in equation else ''}{''.join(once)}"


# absent from the older torch releases graphnn supports (torch>=2.4)
_GROUPED_MM = [f for f in (getattr(torch, "_grouped_mm", None),) if f is not None]
_FUNCTIONAL_GROUPED_MM = [f for f in (getattr(F, "grouped_mm", None),) if f is not None]


@function_rule(*_GROUPED_MM)
def grouped_mm(b, x, weights, offs=None, bias=None, out_dtype=None):
    """Rows of ``x`` (S, K) in groups, group g (rows offs[g-1] to offs[g]) times ``weights[g]``
    (E, K, N): transformers' MoE experts (grouped_mm, their default implementation) after
    sorting the tokens by expert. Each row's group is how many offsets it has reached; the row
    is multiplied by its group's weight, gathered (as transformers' batched_mm does). Rows past
    the last offset, which torch leaves unwritten, take the last group's weight."""
    if offs is None or b.rank(x) != 2 or b.rank(weights) != 3 or bias is not None:
        raise b.unsupported("torch._grouped_mm other than (S, K) rows grouped by offs against (E, K, N) "
                            "weights, without bias")
    if out_dtype is not None and dtype_name(out_dtype) != b.dtype(x):
        raise b.unsupported("torch._grouped_mm with an out_dtype other than its input's")
    call = function_rule_for
    rows = call(torch.arange)(b, method_rule_for("size")(b, x, 0))
    reached = call(torch.ge)(b, call(torch.unsqueeze)(b, rows, 1),
                             call(torch.unsqueeze)(b, cast(b, offs, "int64"), 0))
    group = call(torch.clamp)(b, call(torch.sum)(b, reached, 1), None, b.shape(weights)[0] - 1)
    picked = call(torch.index_select)(b, weights, 0, group)
    products = matmul(b, call(torch.unsqueeze)(b, x, 1), picked)
    return call(torch.squeeze)(b, products, 1)


@function_rule(*_FUNCTIONAL_GROUPED_MM)
def functional_grouped_mm(b, mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    return grouped_mm(b, mat_a, mat_b, offs, bias, out_dtype)
