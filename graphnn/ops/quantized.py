"""Shape rule for ``dynamic_quantized_linear``: y = dequant(quant(x) @ W^T) + b, the shape
of a Linear (``..., in`` -> ``..., out``) on a float input."""
from graphnn.ops.linear import linear_label, linear_macs
from graphnn.ops.opdef import define
from graphnn.ops.registry import ShapeMismatch, TensorType


def dynamic_quantized_linear(node, x):
    out_features, in_features = node.params["weight"].shape
    if not x.shape or x.shape[-1] != in_features:
        raise ShapeMismatch(f"expects {in_features} input features, gets {x.shape[-1] if x.shape else 'a scalar'}")
    if x.dtype != "float32":
        raise ShapeMismatch(f"expects a float32 input (it quantizes it itself), gets {x.dtype}")
    return TensorType(x.shape[:-1] + (out_features,), x.dtype)


DYNAMIC_QUANTIZED_LINEAR = define("dynamic_quantized_linear", shape=dynamic_quantized_linear, macs=linear_macs,
                                  label=linear_label)
