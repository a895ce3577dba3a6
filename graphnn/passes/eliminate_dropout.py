"""eliminate_dropout: in eval mode Dropout passes its input through, so drop it."""
from graphnn.ir import Graph
from graphnn.passes.rewire import bypass


def eliminate_dropout(graph: Graph) -> int:
    removed = 0
    for node in graph.nodes():
        if node.op == "dropout":
            bypass(graph, node)
            removed += 1
    return removed
