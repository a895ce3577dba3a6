"""Rules for binary arithmetic (``+ - * /``, ``torch.add``, ``x.add``...).

Python numbers become constants of the tensor operand's dtype, as torch's type
promotion would give for same-kind operands.
"""
import operator

import torch

from graphnn.frontend.rules import Ref, function_rule, method_rule
from graphnn.tensors import is_float


def _operands(b, a, other):
    """Both operands as Refs; a Python number takes the tensor operand's dtype."""
    if isinstance(a, Ref) and isinstance(other, Ref):
        return a, other
    tensor, number = (a, other) if isinstance(a, Ref) else (other, a)
    if not isinstance(tensor, Ref):
        raise b.unsupported("arithmetic on two Python numbers inside the traced graph")
    dtype = b.dtype(tensor)
    if isinstance(number, float) and not is_float(dtype):
        raise b.unsupported(f"mixing a {dtype} tensor with the float {number}")
    const = b.constant(number, dtype=dtype)
    return (tensor, const) if tensor is a else (const, tensor)


def _binary(op):
    def rule(b, a, other, *, alpha=1, out=None):
        if alpha != 1:
            raise b.unsupported(f"{op} with alpha={alpha}")
        return b.emit(op, list(_operands(b, a, other)))
    return rule


function_rule(operator.add, operator.iadd, torch.add)(_binary("add"))
method_rule("add", "add_", "__add__", "__radd__")(_binary("add"))
function_rule(operator.sub, operator.isub, torch.sub)(_binary("sub"))
method_rule("sub", "sub_")(_binary("sub"))
function_rule(operator.mul, operator.imul, torch.mul)(_binary("mul"))
method_rule("mul", "mul_")(_binary("mul"))
function_rule(operator.truediv, operator.itruediv, torch.div)(_binary("div"))
method_rule("div", "div_")(_binary("div"))
function_rule(operator.floordiv)(_binary("floordiv"))
function_rule(operator.pow, torch.pow)(_binary("pow"))
method_rule("pow")(_binary("pow"))
