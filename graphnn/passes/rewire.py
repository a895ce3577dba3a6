"""Small graph edits shared by passes."""
from graphnn.ir import Graph, Node
from graphnn.ops.opdef import OpDef


def bypass(graph: Graph, node: Node) -> None:
    """Remove a one-in one-out pass-through node, its readers reading its input."""
    graph.replace_uses(node.outputs[0], node.inputs[0])
    graph.remove_node(node)


def bypass_all(graph: Graph, op: OpDef) -> int:
    """Bypass every node of a pass-through ``op``; returns how many were removed."""
    nodes = [n for n in graph.nodes() if n.op == op.name]
    for node in nodes:
        bypass(graph, node)
    return len(nodes)
