"""eliminate_dropout: in eval mode Dropout passes its input through, so drop it."""
from graphnn.ir import Graph
from graphnn.ops.structural import DROPOUT
from graphnn.passes.rewire import bypass_all


def eliminate_dropout(graph: Graph) -> int:
    return bypass_all(graph, DROPOUT)
