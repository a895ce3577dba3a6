"""eliminate_identity: remove no-op nodes (nn.Identity, .contiguous(), .clone())."""
from graphnn.ir import Graph
from graphnn.ops.structural import IDENTITY
from graphnn.passes.rewire import bypass_all


def eliminate_identity(graph: Graph) -> int:
    return bypass_all(graph, IDENTITY)
