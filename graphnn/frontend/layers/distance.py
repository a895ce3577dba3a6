"""Rules for distances, decomposed into elementwise ops and reductions exactly as
torch 2.x computes them (aten/src/ATen/native/Distance.cpp):

* cosine_similarity: sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim) -
  each norm is clamped on its own (torch's docs still show max(||x1|| * ||x2||, eps),
  which the implementation no longer does);
* pairwise_distance: ||x1 - x2 + eps||_p over the last dim of the broadcast inputs;
* cdist: ||x1[..., i, :] - x2[..., j, :]||_p for every pair of rows, from the differences
  themselves (torch switches to a matmul expansion for p=2 past 25 rows, which loses
  precision for close points; the differences do not).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.elementwise import binary, float_dtype, promote
from graphnn.frontend.layers.reduce import reduce
from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.dims import broadcast, normalize_axis
from graphnn.ops.elementwise import ADD, CLAMP, DIV, MUL, SUB
from graphnn.ops.reduce import NORM, SUM
from graphnn.ops.registry import ShapeMismatch
from graphnn.ops.shape import UNSQUEEZE


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



@function_rule(torch.cdist)
def cdist(b, x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    x1, x2 = promote(b, x1, x2, dtype=float_dtype(b, x1, x2))
    if b.rank(x1) < 2 or b.rank(x2) < 2 or b.shape(x1)[-1] != b.shape(x2)[-1]:
        raise b.shape_error(f"expects (..., P, M) and (..., R, M) inputs, gets {b.shape(x1)} and {b.shape(x2)}")
    rows = b.emit(UNSQUEEZE, [x1], dims=[b.rank(x1) - 1])  # (..., P, 1, M)
    columns = b.emit(UNSQUEEZE, [x2], dims=[b.rank(x2) - 2])  # (..., 1, R, M)
    return reduce(b, NORM, binary(b, SUB, rows, columns), -1, False, p=float(p))
