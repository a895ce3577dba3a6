"""The ``opaque`` op: a torch layer graphnn has no rule for, shown by ``graphnn graph``.

Its output shapes are the ones a real forward pass produced (symbolic where they follow
an input's dynamic dim), recorded on the node when it was traced; nothing can lower it,
and only the graph-only trace (``frontend.rules.opaque_layers``) makes one.
"""
from graphnn.ops.registry import TensorType, shape_rule


@shape_rule("opaque")
def opaque(node, *inputs):
    return [TensorType(tuple(shape), dtype) for shape, dtype in node.attrs["observed"]]
