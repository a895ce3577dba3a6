"""Rules for distances, decomposed into elementwise ops and reductions exactly as
torch 2.x computes them (aten/src/ATen/native/Distance.cpp):

* cosine_similarity: sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim) -
  each norm is clamped on its own (torch's docs still show max(||x1|| * ||x2||, eps),
  which the implementation no longer does);
* pairwise_distance: ||x1 - x2 + eps||_p over the last dim of the broadcast inputs.
"""
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.elementwise import binary, float_dtype, promote
from graphnn.frontend.layers.reduce import reduce
from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.dims import broadcast, normalize_axis
from graphnn.ops.elementwise import ADD, CLAMP, DIV, MUL, SUB
from graphnn.ops.reduce import NORM, SUM
from graphnn.ops.registry import ShapeMismatch


def _dim_from_end(b, x1, x2, dim) -> int:
    """torch's ``dim`` of the broadcast shape, counted from the end (-1 is the last)."""
    try:
        rank = len(broadcast(b.shape(x1), b.shape(x2)))
        return normalize_axis(dim, rank) - rank
    except ShapeMismatch as exc:
        raise b.shape_error(str(exc)) from None


@function_rule(F.cosine_similarity)
def cosine_similarity(b, x1, x2, dim=1, eps=1e-8):
    x1, x2 = promote(b, x1, x2, dtype=float_dtype(b, x1, x2))
    dim = _dim_from_end(b, x1, x2, dim)
    if any(b.rank(x) < -dim for x in (x1, x2)) or b.shape(x1)[dim] != b.shape(x2)[dim]:
        raise b.unsupported("cosine_similarity broadcasting along the reduced dim")
    units = [binary(b, DIV, x, b.emit(CLAMP, [reduce(b, NORM, x, dim, True, p=2.0)], min=eps, max=None))
             for x in (x1, x2)]
    return reduce(b, SUM, binary(b, MUL, *units), dim)


@module_rule(nn.CosineSimilarity)
def cosine_similarity_layer(b, module, x1, x2):
    return cosine_similarity(b, x1, x2, module.dim, module.eps)


@function_rule(F.pairwise_distance)
def pairwise_distance(b, x1, x2, p=2.0, eps=1e-6, keepdim=False):
    x1, x2 = promote(b, x1, x2, dtype=float_dtype(b, x1, x2))
    shifted = binary(b, ADD, binary(b, SUB, x1, x2), eps)
    return reduce(b, NORM, shifted, -1, keepdim, p=float(p))


@module_rule(nn.PairwiseDistance)
def pairwise_distance_layer(b, module, x1, x2):
    return pairwise_distance(b, x1, x2, module.norm, module.eps, module.keepdim)

