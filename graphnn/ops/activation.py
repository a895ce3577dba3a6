"""Shape rules for elementwise activations: output shape and dtype = input's."""
from graphnn.ops.registry import TensorType, shape_rule

ELEMENTWISE_ACTIVATIONS = ("relu",)


@shape_rule(*ELEMENTWISE_ACTIVATIONS)
def elementwise(node, x):
    return TensorType(x.shape, x.dtype)
