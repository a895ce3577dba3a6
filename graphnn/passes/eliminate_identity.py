"""eliminate_identity: remove no-op nodes (nn.Identity, .contiguous(), .clone())."""
from graphnn.ir import Graph
from graphnn.passes.rewire import bypass


def eliminate_identity(graph: Graph) -> int:
    removed = 0
    for node in graph.nodes():
        if node.op == "identity":
            bypass(graph, node)
            removed += 1
    return removed
