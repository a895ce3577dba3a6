"""fold_batchnorm: eval-mode BatchNorm folded into the conv/linear before it.

With s = gamma / sqrt(var + eps): W' = W * s (per output channel), b' = (b - mean) * s + beta.
As in onnxscript's rule, match, check and rewrite are kept apart. The arithmetic runs in
float64. A BatchNorm that cannot be folded (its producer has other readers, or is not a
conv/linear: DenseNet's BatchNorms after a Concat) stays ``batch_norm``: one ONNX
BatchNormalization node, which onnxruntime runs faster than the Mul + Add it equals.
"""
from __future__ import annotations

from typing import Optional

import torch

from graphnn.ir import Graph, Node
from graphnn.ops.conv import CONV
from graphnn.ops.linear import LINEAR
from graphnn.ops.norm import BATCH_NORM
from graphnn.ops.opdef import op_names

FOLDABLE = op_names(*CONV.values(), LINEAR)
CHUNK_ELEMENTS = 1 << 20  # float64 temporaries of at most 8 MB while scaling a weight


def bn_scale_shift(bn: Node) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel (scale, shift) an eval BatchNorm applies, in float64."""
    p = {k: v.detach().double() for k, v in bn.params.items()}
    gamma = p.get("weight", torch.ones_like(p["running_var"]))
    beta = p.get("bias", torch.zeros_like(p["running_mean"]))
    scale = gamma / torch.sqrt(p["running_var"] + bn.attrs["eps"])
    return scale, beta - p["running_mean"] * scale


def foldable_producer(graph: Graph, bn: Node) -> Optional[Node]:
    """The conv/linear this BatchNorm can fold into, or None (with the reason kept simple:
    wrong op, shared output, or a linear whose output channels are not on dim 1)."""
    producer = graph.producer(bn.inputs[0])
    if producer is None or producer.op not in FOLDABLE:
        return None
    out = producer.outputs[0]
    if len(graph.consumers(out)) != 1 or out in graph.outputs:
        return None
    if producer.op == LINEAR.name and len(graph.values[out].shape) != 2:
        return None
    return producer


def fold_into(producer: Node, bn: Node, scratch: Optional[dict] = None) -> None:
    scale, shift = bn_scale_shift(bn)
    weight = producer.params["weight"]
    bias = producer.params.get("bias")
    bias64 = bias.double() if bias is not None else torch.zeros_like(scale)
    producer.params = {
        **producer.params,
        "weight": scaled_rows(weight, scale, {} if scratch is None else scratch),
        "bias": (bias64 * scale + shift).to(weight.dtype),
    }


def scaled_rows(weight: torch.Tensor, scale: torch.Tensor, scratch: dict) -> torch.Tensor:
    """``weight * scale`` per output channel (dim 0), computed in float64 a block of rows at
    a time, in place in one float64 buffer kept in ``scratch`` across calls: the result is
    the only memory left behind. (A whole float64 copy and its product were 4x the weight, 560
    MB more at the peak for a 137 MB conv; a new float64 block per step or per layer was kept
    by the allocator's heap, up to 2x the folded weights.)"""
    weight = weight.detach()  # a Parameter would make autograd keep every block's product
    folded = torch.empty_like(weight, memory_format=torch.contiguous_format)
    row = max(1, weight[0].numel())
    rows = max(1, CHUNK_ELEMENTS // row)
    if scratch.get("buffer") is None or scratch["buffer"].numel() < rows * row:
        scratch["buffer"] = torch.empty(max(CHUNK_ELEMENTS, row), dtype=torch.float64)
    view = (-1,) + (1,) * (weight.dim() - 1)
    for start in range(0, weight.shape[0], rows):
        block = slice(start, start + rows)
        count = folded[block].shape[0]
        product = scratch["buffer"][: count * row].view((count,) + tuple(weight.shape[1:]))
        product.copy_(weight[block])  # in place throughout: no temporary for the allocator to keep
        product.mul_(scale[block].reshape(view))
        folded[block].copy_(product)
    return folded


def fold_batchnorm(graph: Graph) -> int:
    """Fold every foldable eval BatchNorm; returns how many were folded."""
    folded = 0
    scratch: dict = {}  # one float64 buffer for every fold
    for bn in graph.nodes():
        if bn.op != BATCH_NORM.name:
            continue
        producer = foldable_producer(graph, bn)
        if producer is None:
            continue
        fold_into(producer, bn, scratch)
        graph.replace_uses(bn.outputs[0], producer.outputs[0])
        graph.remove_node(bn)
        folded += 1
    return folded
