"""Assemble an onnx.ModelProto from an IR graph: inputs and outputs with symbolic
dims, one lowering call per IR node, value_info for every intermediate tensor (so
Netron shows shapes, and the checker cross-checks our shape inference), then
``onnx.checker.check_model(full_check=True)``.

The ModelProto is filled in place (``helper.make_graph`` / ``make_model`` would copy every
initializer twice): the weights exist once, in the model.
"""
from __future__ import annotations

from typing import Optional

import onnx
from onnx import ModelProto, helper

from graphnn.backend.onnx.context import EmitContext
from graphnn.backend.onnx.opsets import DEFAULT_OPSET, ir_version_for
from graphnn.backend.onnx.registry import lowering_for
from graphnn.backend.onnx.targets import CONTRIB, DEFAULT_TARGET, TARGETS, Target
from graphnn.ir import Graph, Value
from graphnn.onnxfile.checker import check
from graphnn.onnxfile.types import onnx_dtype
from graphnn.tensors import is_complex
from graphnn.version import __version__


def output_names(graph: Graph) -> list[str]:
    """ONNX names of the model outputs: the frontend's (``logits``; ``output``, or
    ``output_0``, ``output_1``... for tensors and tuples) when it named them all."""
    names = list(graph.output_names)
    taken = set(graph.inputs)
    if len(names) == len(graph.outputs) and len(set(names)) == len(names) and not taken & set(names):
        return names
    if len(graph.outputs) == 1:
        return ["output"]
    return [f"output_{i}" for i in range(len(graph.outputs))]


def to_onnx(graph: Graph, opset: int = DEFAULT_OPSET) -> ModelProto:
    model = lower_unchecked(graph, opset)
    check(model)
    return model


def lower_unchecked(graph: Graph, opset: int = DEFAULT_OPSET, weights: Optional[dict] = None,
                    runs_on: Target = TARGETS[DEFAULT_TARGET]) -> ModelProto:
    """The ModelProto of ``graph``, not yet checked (export times the check apart). Given a
    ``weights`` dict, large initializers' bytes go there, as views of the torch tensors,
    and not into the ModelProto (``onnxfile.serialize`` writes them; its ``fill_weights`` completes it).
    ``runs_on``: the runtime the file is for (``targets``), whose contrib kernels lowerings may use."""
    finals = output_names(graph)
    model = ModelProto()
    ctx = EmitContext(graph, opset, _preassigned_names(graph, finals), target=model.graph, weights=weights,
                      runs_on=runs_on)
    for node in graph.nodes():
        ctx.begin(node)
        lowering_for(node.op, opset)(ctx, node)
    ctx.begin(None)
    for value, final in zip(graph.outputs, finals):
        if ctx.name(value) != final:  # an input, a constant, or a value returned twice
            ctx.add("Identity", [ctx.name(value)], [final])

    produced = {out for n in ctx.nodes for out in n.output}
    internal = [
        _value_info(ctx.name(v), graph.values[v], graph)
        for v in graph.values
        if v not in graph.inputs and v not in graph.outputs and ctx.name(v) in produced
        and ctx.name(v) not in finals
    ]
    proto = model.graph  # its initializers were added while lowering
    proto.name = graph.name
    proto.node.extend(ctx.nodes)
    proto.input.extend(_value_info(v, graph.values[v], graph) for v in graph.inputs)
    proto.output.extend(_value_info(f, graph.values[v], graph) for v, f in zip(graph.outputs, finals))
    proto.value_info.extend(internal)
    model.ir_version = ir_version_for(opset)
    model.opset_import.append(helper.make_opsetid("", opset))
    if any(node.domain == CONTRIB for node in ctx.nodes):
        model.opset_import.append(helper.make_opsetid(CONTRIB, 1))
    if ctx.notes:
        model.doc_string = "\n".join(ctx.notes)
    model.producer_name, model.producer_version = "graphnn", __version__
    return model


def _preassigned_names(graph: Graph, finals: list[str]) -> dict[str, str]:
    """Outputs produced by a node, returned once, get their final name directly."""
    names = {}
    for value, final in zip(graph.outputs, finals):
        if graph.outputs.count(value) == 1 and graph.producer(value) is not None:
            names[value] = final
    return names


def _value_info(name: str, value: Value, graph: Graph) -> onnx.ValueInfoProto:
    dims = [d if isinstance(d, int) else str(d) for d in value.shape]
    if is_complex(value.dtype):  # ONNX's DFT layout: float32 with (real, imag) last
        return helper.make_tensor_value_info(name, onnx_dtype("float32"), dims + [2])
    return helper.make_tensor_value_info(name, onnx_dtype(value.dtype), dims)
