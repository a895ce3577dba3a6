"""infer_shapes: (re)compute every value's shape and dtype with the per-op rules.

The frontend already infers node by node while tracing; this pass re-runs the rules
over a whole graph after other passes rewrote it. A mismatch is a ShapeError naming
the layer, its source line, what it expected and what it got.
"""
from graphnn.ir import Graph
from graphnn.ops import infer_node


def infer_shapes(graph: Graph) -> int:
    for node in graph.nodes():
        infer_node(graph, node)
    return 0
