"""What each optimizing pass did, for ``graphnn graph --optimize``: ``conv1 + bn1 folded``,
``drop removed``. The pipeline (``passes.PIPELINE``) runs pass by pass on a copy, and the
graph before and after each pass is compared: a node that disappeared, or one whose weights
changed, is marked with a sentence chosen by the pass, generic for passes added later."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from graphnn.ir import Graph
from graphnn.passes import PIPELINE, infer_shapes


@dataclass
class Marks:
    on_nodes: dict = field(default_factory=dict)  # surviving node name -> notes
    removed: list = field(default_factory=list)   # sentences about nodes that are gone

    def note(self, node: str, text: str) -> None:
        self.on_nodes.setdefault(node, []).append(text)


@dataclass(frozen=True)
class _Before:
    op: str
    inputs: tuple
    params: dict  # key -> tensor id, to see a weight replaced


def _snapshot(graph: Graph) -> tuple[dict, dict]:
    nodes = {n.name: _Before(n.op, n.inputs, {k: id(t) for k, t in n.params.items()}) for n in graph.nodes()}
    producer = {o: n.name for n in graph.nodes() for o in n.outputs}
    return nodes, producer


Sentence = Callable[[str, _Before, dict], tuple[Optional[str], str]]  # -> (node to mark, text)


def _folded(name: str, node: _Before, producer: dict) -> tuple[Optional[str], str]:
    source = producer.get(node.inputs[0]) if node.inputs else None
    return (source, f"{source} + {name} folded") if source else (None, f"{name} folded")


_REMOVED: dict[str, Sentence] = {
    "fold_batchnorm": _folded,
    "eliminate_dropout": lambda name, node, producer: (None, f"{name} removed (dropout is the identity in eval)"),
    "eliminate_identity": lambda name, node, producer: (None, f"{name} removed (identity)"),
    "fold_shapes": lambda name, node, producer: (None, f"{name} folded into a constant shape"),
    "dce": lambda name, node, producer: (None, f"{name} removed (unused)"),
}


def optimize_with_marks(graph: Graph) -> tuple[Graph, Marks]:
    """A copy of ``graph`` after the optimizing passes, and what each pass did to it."""
    result, marks = graph.copy(), Marks()
    infer_shapes(result)
    for step in PIPELINE:
        if not step.optimizing:
            continue
        before, producer = _snapshot(result)
        if step.run(result):
            infer_shapes(result)
        _mark(step.name, before, producer, result, marks)
    return result, marks


def _mark(pass_name: str, before: dict, producer: dict, after: Graph, marks: Marks) -> None:
    """Removed nodes first (their sentence may name a survivor), then survivors whose op or
    weights the pass changed and no sentence mentioned yet."""
    now = {n.name: n for n in after.nodes()}
    generic = lambda name, node, producer: (None, f"{name} removed by {pass_name}")  # noqa: E731
    marked = set()
    for name, node in before.items():
        if node.op != "constant" and name not in now:
            target, text = _REMOVED.get(pass_name, generic)(name, node, producer)
            if target in now:
                marks.note(target, text)
                marked.add(target)
            else:
                marks.removed.append(text)
    for name, node in before.items():
        if name in now and name not in marked and node.op != "constant" and (
                now[name].op != node.op or {k: id(t) for k, t in now[name].params.items()} != node.params):
            marks.note(name, pass_name.replace("_", " "))
