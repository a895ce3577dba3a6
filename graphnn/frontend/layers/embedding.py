"""Rules for lookup tables: nn.Embedding / F.embedding and nn.EmbeddingBag /
F.embedding_bag.

``embedding`` is a row lookup in the weight. ``embedding_bag`` looks rows up and reduces
each bag (sum / mean / max); its inputs are the indices, then the offsets and the
per-sample weights when given (``attrs`` say which are there). In eval mode
``padding_idx`` only matters to bags (padded entries leave their bag); an Embedding's
padding row is an ordinary row of its weight. ``sparse`` and ``scale_grad_by_freq`` only
change gradients. ``max_norm`` is refused: torch renormalizes the looked-up weight rows
in place on every forward, so the output depends on the calls made before, not on the
weights the file would hold.
"""
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.embedding import EMBEDDING, EMBEDDING_BAG
from graphnn.ops.indexing import INDEX_SELECT

BAG_MODES = ("sum", "mean", "max")


def _refuse_max_norm(b, max_norm):
    if max_norm is not None:
        raise b.unsupported(
            f"max_norm={max_norm} (torch rewrites the looked-up weight rows in place on every forward, "
            f"so the result depends on earlier calls; renormalize the weight once before export and "
            f"construct the layer with max_norm=None)")


@module_rule(nn.Embedding)
def embedding_layer(b, module, input):
    _refuse_max_norm(b, module.max_norm)
    return b.emit(EMBEDDING, [input], params={"weight": module.weight})


@function_rule(F.embedding)
def embedding(b, input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """On a parameter: the same op as nn.Embedding; on a weight computed in forward: a
    lookup along its dim 0 (``index_select``, ONNX Gather too)."""
    _refuse_max_norm(b, max_norm)
    table = b.constant_value(weight)
    if table is None:
        return b.emit(INDEX_SELECT, [weight, input], dim=0)
    return b.emit(EMBEDDING, [input], params={"weight": table})


@module_rule(nn.EmbeddingBag)
def embedding_bag_layer(b, module, input, offsets=None, per_sample_weights=None):
    _refuse_max_norm(b, module.max_norm)
    return _bag(b, input, module.weight, offsets, per_sample_weights, module.mode,
                module.include_last_offset, module.padding_idx)


@function_rule(F.embedding_bag)
def embedding_bag(b, input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    _refuse_max_norm(b, max_norm)
    table = b.module_tensor(weight, "embedding_bag weight")
    return _bag(b, input, table, offsets, per_sample_weights, mode, include_last_offset, padding_idx)


def _bag(b, input, weight, offsets, per_sample_weights, mode, include_last_offset, padding_idx):
    """One ``embedding_bag`` node, after torch's own argument checks."""
    if mode not in BAG_MODES:
        raise b.unsupported(f"mode={mode!r} (torch knows {', '.join(map(repr, BAG_MODES))})")
    if per_sample_weights is not None and mode != "sum":
        raise b.unsupported(f"per_sample_weights with mode={mode!r} (torch allows them with mode='sum' only)")
    rank = b.rank(input)
    if rank == 2 and offsets is not None:
        raise b.shape_error("gets offsets with a 2-d input (each row of a 2-d input is one bag)")
    if rank == 1 and offsets is None:
        raise b.shape_error("gets a 1-d input without offsets (pass offsets, or one bag per row of a 2-d input)")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]  # torch counts a negative padding_idx from the end
    inputs = [input] + [t for t in (offsets, per_sample_weights) if t is not None]
    return b.emit(EMBEDDING_BAG, inputs, params={"weight": weight}, mode=mode, padding_idx=padding_idx,
                  offsets=offsets is not None, per_sample_weights=per_sample_weights is not None,
                  include_last_offset=bool(include_last_offset) and offsets is not None)
