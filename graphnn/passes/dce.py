"""dce: dead-code elimination, removing nodes none of whose outputs are used."""
from graphnn.ir import Graph


def dce(graph: Graph) -> int:
    removed = 0
    for node in reversed(graph.nodes()):
        if not any(graph.consumers(v) or v in graph.outputs for v in node.outputs):
            graph.remove_node(node)
            removed += 1
    return removed
