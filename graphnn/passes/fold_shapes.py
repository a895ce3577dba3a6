"""fold_shapes: constant-fold shape arithmetic feeding reshapes.

``x.view(x.size(0), -1)`` traces to size -> reshape. A traced size whose value is a
known int becomes part of the reshape's constant target; one that is the reshape
input's own dim at the same index becomes ONNX's copy-dim (``"same"``), which keeps
the batch dynamic without Shape/Gather/Concat nodes. dce then drops the dead sizes.
"""
from graphnn.ir import Graph, Node
from graphnn.ops.shape import RESHAPE
from graphnn.ops.structural import SIZE


def _fold_entry(graph: Graph, reshape: Node, position: int, value_name: str):
    """The static entry replacing a dynamic one, or None to keep it dynamic."""
    value = graph.values[value_name]
    if isinstance(value.known, int):
        return value.known
    size = graph.producer(value_name)
    if size is not None and size.op == SIZE.name and size.inputs[0] == reshape.inputs[0]:
        rank = len(graph.values[reshape.inputs[0]].shape)
        if size.attrs["dim"] % rank == position:
            return "same"
    return None


def fold_shapes(graph: Graph) -> int:
    folded = 0
    for node in graph.nodes():
        if node.op != RESHAPE.name or len(node.inputs) == 1:
            continue
        entries, dynamic, kept = [], iter(node.inputs[1:]), []
        for position, entry in enumerate(node.attrs["shape"]):
            if entry is not None:
                entries.append(entry)
                continue
            value_name = next(dynamic)
            static = _fold_entry(graph, node, position, value_name)
            if static is None:
                entries.append(None)
                kept.append(value_name)
            else:
                entries.append(static)
        if len(kept) < len(node.inputs) - 1:
            folded += len(node.inputs) - 1 - len(kept)
            node.attrs = {**node.attrs, "shape": entries}
            graph.set_inputs(node, [node.inputs[0], *kept])
    return folded
