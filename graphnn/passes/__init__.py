"""The pass pipeline: one list, run in order.

``infer_shapes`` always runs; the optimizing passes are skipped by ``--no-optimize``.
A pass is ``fn(graph) -> number of changes`` and edits the graph in place through the
Graph API. Shapes are re-inferred after any pass that changed something, and with
``verify=True`` (the tests) the IR verifier runs after every pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from graphnn import timings
from graphnn.ir import Graph
from graphnn.passes.dce import dce
from graphnn.passes.drop_zero_bias import drop_zero_bias
from graphnn.passes.eliminate_dropout import eliminate_dropout
from graphnn.passes.eliminate_identity import eliminate_identity
from graphnn.passes.fold_batchnorm import fold_batchnorm
from graphnn.passes.fold_shapes import fold_shapes
from graphnn.passes.infer_shapes import infer_shapes


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[Graph], int]
    optimizing: bool


PIPELINE = [
    Pass("infer_shapes", infer_shapes, optimizing=False),
    Pass("eliminate_dropout", eliminate_dropout, optimizing=True),
    Pass("eliminate_identity", eliminate_identity, optimizing=True),
    Pass("fold_batchnorm", fold_batchnorm, optimizing=True),
    Pass("drop_zero_bias", drop_zero_bias, optimizing=True),
    Pass("fold_shapes", fold_shapes, optimizing=True),
    Pass("dce", dce, optimizing=True),
]


def run_passes(graph: Graph, optimize: bool = True, verify: bool = False,
               log: Optional[Callable[[str], None]] = None) -> dict[str, int]:
    """Run the pipeline in place; returns the number of changes each pass made."""
    changes = {}
    for p in PIPELINE:
        if p.optimizing and not optimize:
            continue
        with timings.stage(p.name):
            changes[p.name] = p.run(graph)
            if changes[p.name] and p.name != "infer_shapes":
                infer_shapes(graph)
        if verify:
            graph.verify()
        if log and changes[p.name]:
            log(f"  {p.name}: {changes[p.name]} change(s)")
    return changes


__all__ = ["PIPELINE", "Pass", "run_passes", "infer_shapes", "fold_batchnorm",
           "eliminate_dropout", "eliminate_identity", "drop_zero_bias", "fold_shapes", "dce"]
