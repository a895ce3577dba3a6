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

FOLDABLE = {"conv1d", "conv2d", "conv3d", "linear"}


def bn_scale_shift(bn: Node) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel (scale, shift) an eval BatchNorm applies, in float64."""
    p = {k: v.double() for k, v in bn.params.items()}
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
    if producer.op == "linear" and len(graph.values[out].shape) != 2:
        return None
    return producer


def fold_into(producer: Node, bn: Node) -> None:
    scale, shift = bn_scale_shift(bn)
    weight = producer.params["weight"]
    view = (-1,) + (1,) * (weight.dim() - 1)
    bias = producer.params.get("bias")
    bias64 = bias.double() if bias is not None else torch.zeros_like(scale)
    producer.params = {
        **producer.params,
        "weight": (weight.double() * scale.reshape(view)).to(weight.dtype),
        "bias": (bias64 * scale + shift).to(weight.dtype),
    }


def fold_batchnorm(graph: Graph) -> int:
    """Fold every foldable eval BatchNorm; returns how many were folded."""
    folded = 0
    for bn in graph.nodes():
        if bn.op != "batch_norm":
            continue
        producer = foldable_producer(graph, bn)
        if producer is None:
            continue
        fold_into(producer, bn)
        graph.replace_uses(bn.outputs[0], producer.outputs[0])
        graph.remove_node(bn)
        folded += 1
    return folded
