"""drop_zero_bias: a conv/linear bias of exact zeros is dropped.

Default-initialised BatchNorms fold into exactly-zero biases, and many layers are built with
zero biases; adding zeros costs onnxruntime a kernel per layer (about 10% of ResNet-50 on
CUDA), and the dynamo exporter drops them too. Only ops whose lowering treats the bias as
optional are touched, so the result is identical, bit for bit.
"""
import torch

from graphnn.ir import Graph
from graphnn.ops.conv import CONV, CONV_TRANSPOSE
from graphnn.ops.linear import BILINEAR, LINEAR
from graphnn.ops.opdef import op_names

OPTIONAL_BIAS = op_names(*CONV.values(), *CONV_TRANSPOSE.values(), LINEAR, BILINEAR)


def drop_zero_bias(graph: Graph) -> int:
    dropped = 0
    for node in graph.nodes():
        bias = node.params.get("bias") if node.op in OPTIONAL_BIAS else None
        if bias is not None and not torch.count_nonzero(bias):
            del node.params["bias"]
            dropped += 1
    return dropped
