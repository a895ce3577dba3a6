"""Shared test helper: export a model through the whole pipeline and assert parity.

Used by the per-op tests in tests/ops/: every lowering is checked against PyTorch at
the default opset and the lowest supported one, at two batch sizes when the batch is
dynamic, with the IR verifier after every pass.
"""
from __future__ import annotations

import json
import os
from typing import Iterable, Optional, Sequence

import onnx
import torch

import graphnn
from graphnn.backend.onnx import DEFAULT_OPSET, MIN_OPSET, to_onnx

OPSETS = (DEFAULT_OPSET, MIN_OPSET)


def export_checked(model: torch.nn.Module, inputs: Sequence[torch.Tensor] | torch.Tensor | dict,
                   opsets: Iterable[int] = OPSETS, optimize: bool = True, dynamic_batch: bool = True,
                   atol: float = 1e-4, rtol: float = 1e-4, dynamic_dims=None,
                   frontend: str = "auto") -> dict[int, onnx.ModelProto]:
    """Trace, run passes with the verifier, lower at each opset, assert parity; returns the models.

    Parity runs at the example sizes and two others per dynamic dim (batch 1 and 3 by
    default; ``dynamic_dims=[{0: "seq", 1: "batch"}]`` names others, each of which must vary)."""
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    graph = graphnn.trace(model, inputs, dynamic_batch=dynamic_batch, dynamic_dims=dynamic_dims,
                          frontend=frontend)
    graph.verify()
    traced_kinds = {node.kind for node in graph.nodes()} | composite_layers(model)
    traced_ops = {node.op for node in graph.nodes()}
    graph = graphnn.optimize(graph, enabled=optimize, verify=True)
    models = {}
    for opset in opsets:
        onnx_model = to_onnx(graph, opset)
        report = graphnn.check_parity(model, inputs, onnx_model, atol=atol, rtol=rtol, frontend=frontend)
        assert report.ok, f"opset {opset}: " + report.summary() + "\n" + "\n".join(report.lines())
        if dynamic_dims is not None:
            for symbol in graph.symbols:
                assert len({run.sizes[symbol] for run in report.runs}) >= 2, symbol
        elif dynamic_batch and not isinstance(inputs, dict) and inputs[0].dim() >= 2:
            assert {1, 3} <= {run.batch for run in report.runs}, [run.sizes for run in report.runs]
        else:
            assert all(run.batch is None for run in report.runs), [run.sizes for run in report.runs]
        models[opset] = onnx_model
        record_support(onnx_model, opset, traced_kinds, traced_ops)
    return models


def composite_layers(model: torch.nn.Module) -> set:
    """Classes of the layers converted by composing their sublayers' rules (nn.Transformer):
    their ONNX operators are recorded under the sublayers."""
    from graphnn.frontend.rules import module_rule_for
    return {f"composite:{type(m).__name__}" for m in model.modules()
            if module_rule_for(m) and any(module_rule_for(c) for c in m.children())}


def record_support(onnx_model: onnx.ModelProto, opset: int, traced_kinds: set, traced_ops: set) -> None:
    """With GRAPHNN_SUPPORT_RECORD=path (docs/gen_support.py sets it), append which ONNX
    operators each layer / op was lowered to at this opset, and which canonical IR ops the
    trace held (before the passes): docs/support.md is built from it."""
    path = os.environ.get("GRAPHNN_SUPPORT_RECORD")
    if not path:
        return
    kinds: dict[str, set] = {}
    for node in onnx_model.graph.node:
        kind = node.doc_string.split(" at ")[0]
        if kind:
            kinds.setdefault(kind, set()).add(node.op_type)
    with open(path, "a") as f:
        f.write(json.dumps({"opset": opset, "kinds": {k: sorted(v) for k, v in kinds.items()},
                            "traced": sorted(traced_kinds), "canonical": sorted(traced_ops)}) + "\n")


def onnx_ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def attr(model: onnx.ModelProto, op_type: str, name: str):
    """Attribute ``name`` of the first ONNX node of type ``op_type``."""
    node = next(n for n in model.graph.node if n.op_type == op_type)
    return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)


class Wrap(torch.nn.Module):
    """A module around a function, for testing functional spellings: Wrap(lambda x: F.relu(x))."""

    def __init__(self, fn, *modules: Optional[torch.nn.Module]):
        super().__init__()
        self.fn = fn
        self.mods = torch.nn.ModuleList([m for m in modules if m is not None])

    def forward(self, x, y=None, z=None):  # fx cannot trace *args; unused inputs stay None
        return self.fn(*[t for t in (x, y, z) if t is not None])


# A KV-cache decoder's dims (graphnn/hf/cache.py): new tokens x (batch, sequence_length, 4), a
# mask over past and new tokens (batch, total_sequence_length), a past (batch, past_sequence_length,
# 4). Shape rules know total = past + new; parity draws sizes that keep it so.
CACHE_DIMS = [{0: "batch", 1: "sequence_length"}, {0: "batch", 1: "total_sequence_length"},
              {0: "batch", 1: "past_sequence_length"}]


def cache_shaped_inputs(seq: int = 3, past: int = 5) -> tuple:
    torch.manual_seed(0)
    return torch.randn(2, seq, 4), torch.ones(2, past + seq, dtype=torch.long), torch.randn(2, past, 4)
