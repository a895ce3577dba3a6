"""When parity fails, name the first layer whose output diverges.

Polygraphy marks every ONNX tensor as an output to find the first mismatching node;
graphnn knows which torch layer each IR node came from, so it can name the *layer*:
forward hooks record each layer's torch output, the ONNX model gets those layers'
outputs as extra graph outputs, and the first one (in graph order) that differs is
reported with its module path and source line.

The comparison runs on the unoptimized IR, whose layer outputs are the torch layers'
own outputs (after BatchNorm folding a conv's output is the BatchNorm's). If nothing
diverges there, an optimizing pass is at fault, and the report says so, unless the file
computes in float16 / bfloat16: then either the outputs agree within that dtype's own
tolerance (the tolerance asked for is tighter than the dtype rounds), or the same arithmetic
rounded in another order (onnxruntime fuses a probed file differently) lands elsewhere, which
the report says instead (rounding is not a bug of any layer or pass).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import onnx
import torch

from graphnn.backend.onnx import to_onnx
from graphnn.build import Export
from graphnn.checking import tolerances
from graphnn.checking.parity import compare
from graphnn.checking.runtime import create_runtime
from graphnn.frontend import trace_model
from graphnn.frontend.replay import unwrap_parallel
from graphnn.frontend.rules import module_rule_for
from graphnn.calls import layer_calls
from graphnn.inputs import ModelInputs, model_inputs
from graphnn.ir import Graph, Node
from graphnn.modes import eval_mode
from graphnn.onnxfile.serialize import runtime_source
from graphnn.tensors import flatten_outputs, to_numpy


@dataclass
class Divergence:
    """The first layer whose ONNX output differs from torch's (``node``), else whether the
    unoptimized model's outputs differ at all (``outputs_differ``)."""

    node: Optional[Node]
    max_abs: float = 0.0
    layers_compared: int = 0
    last_match: Optional[Node] = None
    outputs_differ: bool = False
    rounding: Optional[tolerances.Tolerance] = None  # the outputs agree within this dtype's rounding
    reordered: Optional[tolerances.Tolerance] = None  # low precision, and nothing differs when observed
    amplified: Optional[tuple] = None  # (node, tolerance): the layer, exported alone, matches on its torch input
    other_outputs: str = ""  # how the file's output list differs from torch's: no layer or pass to blame

    def line(self) -> str:
        if self.other_outputs:
            return (f"  first divergent layer: none looked for; {self.other_outputs}: the trace is another "
                    f"program than torch runs, not a lowering or a pass (try --frontend export)")
        if self.amplified is not None:
            node, natural = self.amplified
            dtype = natural.why.split()[0]
            return (f"  first divergent layer: none; {node.where}, nn.{node.module_class}, is where the outputs part "
                    f"(max abs error {self.max_abs:.2e}), but exported alone it matches torch on the input torch "
                    f"gave it: this is {dtype} rounding in another order before it (onnxruntime computes some "
                    f"{dtype} ops in float32 and skips roundings between them), which the layer amplifies past "
                    f"the {dtype} tolerance: check the model in float32 (model.float()) or allow a larger --rtol")
        if self.reordered is not None:
            dtype = self.reordered.why.split()[0]
            return (f"  first divergent layer: none; every layer and the unoptimized outputs match when observed "
                    f"one by one, so this is {dtype} rounding in another order (onnxruntime fuses the file "
                    f"differently), which the model amplifies past the {dtype} tolerance: check the model in "
                    f"float32 (model.float()) or allow a larger --rtol")
        if self.rounding is not None:
            return (f"  first divergent layer: none; the outputs agree within {self.rounding.why} "
                    f"(atol {self.rounding.atol:g}, rtol {self.rounding.rtol:g}): the tolerance asked for is "
                    f"tighter than {self.rounding.why.split()[0]} rounding, not a bug of a layer or pass")
        if self.node is not None:
            return (f"  first divergent layer: {self.node.where}, nn.{self.node.module_class} "
                    f"(max abs error {self.max_abs:.2e})")
        if not self.outputs_differ:
            return ("  first divergent layer: none; the unoptimized model matches, so an "
                    "optimizing pass is at fault (try --no-optimize)")
        after = f" after {self.last_match.where}" if self.last_match else ""
        return (f"  first divergent layer: no torch.nn layer output differs ({self.layers_compared} "
                f"compared); a functional op (torch.* / Tensor method){after} does")


def _layer_outputs(model: torch.nn.Module, inputs: ModelInputs,
                   paths: set[str]) -> tuple[dict[str, list], list[np.ndarray]]:
    """Each layer's outputs in call order (forward hooks), and the model's outputs."""
    calls: dict[str, list] = defaultdict(list)
    root = unwrap_parallel(model)
    hooks = []
    for path in paths:
        try:
            module = root.get_submodule(path)
        except AttributeError:  # a bare layer exported as the model: it is the model output
            continue
        hooks.append(module.register_forward_hook(  # a copy: a later in-place op would change it
            lambda _m, _i, out, path=path: calls[path].append(
                out.clone() if isinstance(out, torch.Tensor) else out)))
    try:
        with eval_mode(model), torch.no_grad():
            result = inputs.call(model, [t.clone() for t in inputs.tensors])
    finally:
        for hook in hooks:
            hook.remove()
    return calls, [to_numpy(t) for t in flatten_outputs(result)]


def _layer_nodes(graph: Graph, model: torch.nn.Module) -> list[Node]:
    """The node holding each torch.nn layer call's output (the last node of the call). Code
    of the user's own modules is left out: its nodes are interleaved with its sublayers', so
    a run of them is not one call of that module."""
    root = unwrap_parallel(model)
    return [call.last for call in layer_calls(graph)
            if call.module_class and call.module and len(call.last.outputs) == 1 and _is_layer(root, call.module)]


def _is_layer(root: torch.nn.Module, path: str) -> bool:
    try:
        return module_rule_for(root.get_submodule(path)) is not None
    except AttributeError:  # a bare layer exported as the model
        return True


@dataclass
class LayerObservation:
    """One run of the unoptimized export with every layer's output exposed: per layer (graph
    order) the node, its ONNX tensor and torch's output; onnxruntime's results by name."""

    graph: Graph
    onnx_model: onnx.ModelProto
    pairs: list  # (node, onnx tensor name, torch tensor)
    results: dict  # onnx output name -> numpy array
    final: dict  # IR graph output -> ONNX output name
    torch_finals: list  # the torch model's outputs, flattened


def observe_layers(model: torch.nn.Module, built: Export, inputs: ModelInputs) -> LayerObservation:
    """``built``'s traced IR lowered at its opset (no passes: each layer's output is torch's
    layer's), every layer's output exposed, both sides run once on ``inputs``."""
    graph = built.traced
    onnx_model = to_onnx(graph, built.opset)
    nodes = _layer_nodes(graph, model)
    torch_calls, torch_finals = _layer_outputs(model, inputs, {n.module for n in nodes})

    typed = {v.name: v for v in onnx_model.graph.value_info}
    final = dict(zip(graph.outputs, (o.name for o in onnx_model.graph.output)))
    call_index: dict[str, int] = defaultdict(int)
    pairs = []  # (node, onnx tensor name, torch tensor)
    for node in nodes:
        index = call_index[node.module]
        call_index[node.module] += 1
        outputs = torch_calls.get(node.module, [])
        value = node.outputs[0]
        name = final.get(value, value)
        if index < len(outputs) and isinstance(outputs[index], torch.Tensor) and (name in typed or value in final):
            pairs.append((node, name, outputs[index]))

    extra = [typed[name] for _, name, _ in pairs if name in typed]
    probe = onnx.ModelProto()
    probe.CopyFrom(onnx_model)
    probe.graph.output.extend(extra)
    runtime = create_runtime(runtime_source(probe), "cpu")
    names = [o.name for o in probe.graph.output]
    results = dict(zip(names, runtime.run(dict(zip(runtime.input_names, (to_numpy(t) for t in inputs.tensors))))))
    return LayerObservation(graph, onnx_model, pairs, results, final, torch_finals)


def first_divergence(model: torch.nn.Module, built: Export, inputs: ModelInputs,
                     atol: float, rtol: float) -> Divergence:
    """The first layer of ``built``'s traced IR, lowered at its opset, whose output differs
    from torch's on ``inputs`` (the failing run's)."""
    seen = observe_layers(model, built, inputs)
    opset = built.opset
    onnx_model, pairs, results, final, torch_finals = (seen.onnx_model, seen.pairs, seen.results,
                                                       seen.final, seen.torch_finals)
    other_outputs = _other_outputs(list(final.values()), torch_finals, results)
    if other_outputs:
        return Divergence(None, 0.0, outputs_differ=True, other_outputs=other_outputs)
    natural = tolerances.default_for(onnx_model)
    if _within_rounding(natural, atol, rtol, final.values(), torch_finals, results):
        return Divergence(None, 0.0, len(pairs), rounding=natural)
    last_match = None
    for node, name, expected in pairs:
        diff = compare(node.name, to_numpy(expected), np.asarray(results[name]), atol, rtol)
        if not diff.ok:
            if natural in _LOW_PRECISION and _layer_alone_matches(model, node, inputs, opset, atol, rtol):
                return Divergence(None, diff.max_abs, len(pairs), last_match, True, amplified=(node, natural))
            return Divergence(node, diff.max_abs, len(pairs))
        last_match = node
    differ = any(not compare(n, e, np.asarray(results[n]), atol, rtol).ok
                 for n, e in zip(final.values(), torch_finals))
    if not differ and natural in _LOW_PRECISION:  # no pass to blame: the optimized file only rounds differently
        return Divergence(None, 0.0, len(pairs), last_match, differ, reordered=natural)
    return Divergence(None, 0.0, len(pairs), last_match, differ)


_LOW_PRECISION = (tolerances.FLOAT16, tolerances.BFLOAT16)


def _other_outputs(names: Sequence[str], expected: Sequence[np.ndarray], results: dict) -> str:
    """How the file's outputs differ from torch's in number or shape (then no layer or pass
    explains the mismatch); "" when they are the same list."""
    if len(names) != len(expected):
        return f"the file has {len(names)} output(s), torch returns {len(expected)}"
    for index, (name, torch_output) in enumerate(zip(names, expected)):
        shape = tuple(np.shape(results[name]))
        if shape != tuple(torch_output.shape):
            shown = "x".join(map(str, shape)) or "scalar"
            return (f"the file's output {index} ({name}) is {shown}, "
                    f"torch's is {'x'.join(map(str, torch_output.shape)) or 'scalar'}")
    return ""


def _layer_alone_matches(model: torch.nn.Module, node: Node, inputs: ModelInputs, opset: int,
                         atol: float, rtol: float) -> bool:
    """Whether the torch layer whose call ends at ``node``, exported on its own and run on
    the very tensor torch fed it in this run, gives torch's output: then its lowering is
    right, and the divergence is low-precision rounding from before it that it amplifies.
    Layers called with one tensor only."""
    if not node.module:
        return False
    try:
        layer = unwrap_parallel(model).get_submodule(node.module)
    except AttributeError:
        return False
    seen: list = []
    handle = layer.register_forward_pre_hook(lambda _m, args: seen.append(args) if not seen else None)
    try:
        with eval_mode(model), torch.no_grad():
            inputs.call(model, [t.clone() for t in inputs.tensors])
    finally:
        handle.remove()
    if not seen or len(seen[0]) != 1 or not isinstance(seen[0][0], torch.Tensor):
        return False
    given = seen[0][0].detach().clone()
    try:
        alone = to_onnx(trace_model(layer, model_inputs(layer, (given,), None, False), "auto"), opset)
        runtime = create_runtime(runtime_source(alone), "cpu")
        got = runtime.run({runtime.input_names[0]: to_numpy(given)})[0]
        with eval_mode(layer), torch.no_grad():
            expected = layer(given)
    except Exception:  # noqa: BLE001 (a layer that cannot be exported alone: not decidable here)
        return False
    return isinstance(expected, torch.Tensor) and compare(node.name, to_numpy(expected), np.asarray(got), atol, rtol).ok


def _within_rounding(natural: tolerances.Tolerance, atol: float, rtol: float, names, expected, results) -> bool:
    """Whether a float16/bfloat16 file's outputs agree at its dtype's tolerance, which the
    user tightened: then the mismatch is rounding."""
    if natural not in _LOW_PRECISION or (atol >= natural.atol and rtol >= natural.rtol):
        return False
    return all(compare(n, e, np.asarray(results[n]), natural.atol, natural.rtol).ok for n, e in zip(names, expected))
