"""Shape rules of ``det``: the determinant of each square matrix in the last two dims (ONNX
Det, any batch dims in front)."""
import math

from graphnn.ops.dims import fmt
from graphnn.ops.opdef import define
from graphnn.ops.registry import ShapeMismatch, TensorType
from graphnn.tensors import is_float


def det(node, x):
    if len(x.shape) < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeMismatch(f"expects square matrices in the last two dims, gets {fmt(x.shape)}")
    if not is_float(x.dtype):
        raise ShapeMismatch(f"expects a float tensor, gets {x.dtype}")
    return TensorType(x.shape[:-2], x.dtype)


def det_macs(ins, outs, params):
    """LU decomposition: about n^3 / 3 multiply-adds per matrix."""
    return math.prod(ins[0][:-2]) * ins[0][-1] ** 3 // 3


DET = define("det", shape=det, macs=det_macs)
