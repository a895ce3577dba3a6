"""Small graph edits shared by passes."""
from graphnn.ir import Graph, Node


def bypass(graph: Graph, node: Node) -> None:
    """Remove a one-in one-out pass-through node, its readers reading its input."""
    graph.replace_uses(node.outputs[0], node.inputs[0])
    graph.remove_node(node)
