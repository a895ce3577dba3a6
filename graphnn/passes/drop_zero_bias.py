"""drop_zero_bias: a conv/linear bias of exact zeros is dropped.

Default-initialised BatchNorms fold into exactly-zero biases, and many layers are built with
zero biases; adding zeros costs onnxruntime a kernel per layer (about 10% of ResNet-50 on
CUDA), and the dynamo exporter drops them too. Only ops whose lowering treats the bias as
optional are touched, so the result is identical, bit for bit.
"""
import torch

from graphnn.ir import Graph

OPTIONAL_BIAS = {
    "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "linear", "bilinear",
}


def drop_zero_bias(graph: Graph) -> int:
    dropped = 0
    for node in graph.nodes():
        bias = node.params.get("bias") if node.op in OPTIONAL_BIAS else None
        if bias is not None and not torch.count_nonzero(bias):
            del node.params["bias"]
            dropped += 1
    return dropped
