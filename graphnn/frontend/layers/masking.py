"""Rules for masking: ``masked_fill`` and the triangular masks ``tril`` / ``triu``.

Attention code builds its causal and padding masks with these (``scores.masked_fill(
~mask, -inf)``, ``torch.ones(n, n).tril()``). ``masked_fill`` is ``where(mask, value, x)``
with the value in x's dtype (torch keeps x's dtype), so it needs no op of its own (on
bool tensors it is And / Or, which onnxruntime runs where it has no bool Where);
``tril`` / ``triu`` are one ``trilu`` op (ONNX Trilu from opset 14, a comparison of
row and column indices before).
"""
import torch

from graphnn.frontend.layers.elementwise import cast
from graphnn.frontend.rules import Ref, function_rule, method_rule
from graphnn.ops.elementwise import LOGICAL_AND, LOGICAL_NOT, LOGICAL_OR, WHERE
from graphnn.ops.masking import TRILU


@function_rule(torch.masked_fill)
@method_rule("masked_fill", "masked_fill_")
def masked_fill(b, x, mask, value):
    if b.dtype(mask) != "bool":
        raise b.unsupported(f"masked_fill with a {b.dtype(mask)} mask (torch needs a bool one)")
    if b.dtype(x) == "bool":
        return _masked_fill_bool(b, x, mask, value)
    if isinstance(value, Ref):
        if b.shape(value) != ():
            raise b.unsupported("masked_fill with a value that is not a number or a 0-d tensor")
        fill = cast(b, value, b.dtype(x))
    else:
        fill = b.constant(value, dtype=b.dtype(x))
    return b.emit(WHERE, [mask, fill, x])


def _masked_fill_bool(b, x, mask, value):
    """On bool tensors as logic (onnxruntime has no bool Where): ``x | mask`` fills True,
    ``x & ~mask`` fills False, a traced bool value both."""
    if not isinstance(value, Ref):
        if bool(value):
            return b.emit(LOGICAL_OR, [x, mask])
        return b.emit(LOGICAL_AND, [x, b.emit(LOGICAL_NOT, [mask])])
    value = cast(b, value, "bool")
    kept = b.emit(LOGICAL_AND, [x, b.emit(LOGICAL_NOT, [mask])])
    return b.emit(LOGICAL_OR, [kept, b.emit(LOGICAL_AND, [mask, value])])


def _triangle(upper: bool):
    def rule(b, x, diagonal=0, *, out=None):
        if isinstance(diagonal, Ref):
            known = b.value(diagonal).known
            if not isinstance(known, int):
                raise b.unsupported(f"{'triu' if upper else 'tril'} with a diagonal computed in the graph")
            diagonal = known
        if b.rank(x) < 2:
            raise b.shape_error(f"expects a matrix or a batch of them, gets a {b.rank(x)}-d tensor")
        return b.emit(TRILU, [x], upper=upper, diagonal=int(diagonal))
    return rule


function_rule(torch.tril)(method_rule("tril", "tril_")(_triangle(upper=False)))
function_rule(torch.triu)(method_rule("triu", "triu_")(_triangle(upper=True)))
