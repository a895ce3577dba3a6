"""Shape rule for ``dynamic_quantized_linear``: y = dequant(quant(x) @ W^T) + b, the shape
of a Linear (``..., in`` -> ``..., out``) on a float input."""
from graphnn.ops.registry import ShapeMismatch, TensorType, shape_rule


@shape_rule("dynamic_quantized_linear")
def dynamic_quantized_linear(node, x):
    out_features, in_features = node.params["weight"].shape
    if not x.shape or x.shape[-1] != in_features:
        raise ShapeMismatch(f"expects {in_features} input features, gets {x.shape[-1] if x.shape else 'a scalar'}")
    if x.dtype != "float32":
        raise ShapeMismatch(f"expects a float32 input (it quantizes it itself), gets {x.dtype}")
    return TensorType(x.shape[:-1] + (out_features,), x.dtype)
