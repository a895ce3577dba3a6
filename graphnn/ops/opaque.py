"""The ``opaque`` op: a torch layer graphnn has no rule for, shown by ``graphnn graph``.

Its output shapes are the ones a real forward pass produced (symbolic where they follow
an input's dynamic dim), recorded on the node when it was traced; nothing can lower it,
and only the graph-only trace (``frontend.rules.opaque_layers``) makes one.
"""
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import TensorType


def opaque(node, *inputs):
    return [TensorType(tuple(shape), dtype) for shape, dtype in node.attrs["observed"]]


def opaque_label(attrs, weights):
    return {"layer": attrs.get("layer")}


OPAQUE = define("opaque", shape=opaque, macs=NO_MACS, label=opaque_label, graph_only=True)
