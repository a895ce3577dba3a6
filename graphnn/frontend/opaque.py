"""Opaque layers: a torch.nn layer graphnn has no rule for, seen by ``graphnn graph``.

The question "what are the layers in my model" does not depend on ONNX, so inside
``rules.opaque_layers()`` such a layer becomes one ``opaque`` node instead of an error.
Its output shapes and multiply-accumulates come from one real forward pass (forward hooks,
``torch.utils.flop_counter``), dims that follow an input's dynamic dim keep its symbol.
Nothing lowers the node: ``export`` never enters opaque mode and still refuses the layer.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
import torch.fx as fx

from graphnn.errors import TraceError, UnsupportedError
from graphnn.frontend.rules import Builder, Ref
from graphnn.inputs import ModelInputs
from graphnn.ops.opaque import OPAQUE
from graphnn.tensors import dtype_name, dtype_names

KNOWN_DTYPES = frozenset(dtype_names())  # what later rules can read


@dataclass(frozen=True)
class Seen:
    """One output tensor of an observed call."""

    shape: tuple
    dtype: str


@dataclass
class Call:
    output: Any  # the layer's result with every tensor replaced by a Seen
    macs: int


def observe(model: torch.nn.Module, inputs: ModelInputs,
            wanted: Callable[[str, torch.nn.Module], bool]) -> dict[str, list[Call]]:
    """Run ``model`` once on the examples; each wanted layer's calls, in order, by module path."""
    from torch.utils.flop_counter import FlopCounterMode  # imported only when a layer is opaque

    calls: dict[str, list[Call]] = defaultdict(list)
    counters: list = []
    handles = []

    def before(module, args):
        counters.append(FlopCounterMode(display=False))
        counters[-1].__enter__()

    def after(path):
        def hook(module, args, output):
            counter = counters.pop()
            counter.__exit__(None, None, None)
            calls[path].append(Call(_seen(output), counter.get_total_flops() // 2))
        return hook

    for path, module in model.named_modules():
        if path and wanted(path, module):
            handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after(path))]
    try:
        with torch.no_grad():
            inputs.call(model)
    except Exception as exc:  # the model itself fails on its examples: say so in one line
        raise TraceError(f"running the model on its example inputs failed: {type(exc).__name__}: "
                         f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _dtype(dtype: torch.dtype) -> str:
    """graphnn's dtype name; a dtype graphnn has none for (complex64) by torch's name."""
    try:
        return dtype_name(dtype)
    except Exception:
        return str(dtype).removeprefix("torch.")


def _seen(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return Seen(tuple(output.shape), _dtype(output.dtype))
    if isinstance(output, (tuple, list)):
        return type(output)(_seen(o) for o in output) if not hasattr(output, "_fields") else \
            type(output)(*(_seen(o) for o in output))
    if isinstance(output, dict):
        return {k: _seen(v) for k, v in output.items()}
    return output


def _flat(structure: Any) -> list[Seen]:
    if isinstance(structure, Seen):
        return [structure]
    if isinstance(structure, (tuple, list)):
        return [s for item in structure for s in _flat(item)]
    if isinstance(structure, dict):
        return [s for item in structure.values() for s in _flat(item)]
    return []


def _rebuild(structure: Any, refs: list[Ref]) -> Any:
    """The layer's result shape with each Seen replaced by the next output Ref."""
    if isinstance(structure, Seen):
        return refs.pop(0)
    if isinstance(structure, (tuple, list)):
        items = [_rebuild(item, refs) for item in structure]
        return type(structure)(*items) if hasattr(structure, "_fields") else type(structure)(items)
    if isinstance(structure, dict):
        return {k: _rebuild(v, refs) for k, v in structure.items()}
    return structure


def _tensor_refs(args: Any) -> list[Ref]:
    if isinstance(args, Ref):
        return [args]
    if isinstance(args, (tuple, list)):
        return [r for item in args for r in _tensor_refs(item)]
    if isinstance(args, dict):
        return [r for item in args.values() for r in _tensor_refs(item)]
    return []


def _symbolic(b: Builder, shape: tuple, inputs: list[Ref]) -> tuple:
    """A dim equal to an input's dynamic dim at the same index (batch) keeps its symbol."""
    dims = list(shape)
    for ref in inputs:
        for i, dim in enumerate(b.shape(ref)[:len(dims)]):
            if isinstance(dim, str) and b.graph.symbols.get(dim) == dims[i]:
                dims[i] = dim
    return tuple(dims)


def emit_opaque(b: Builder, label: str, params: dict, args: list, kwargs: dict, call: Call) -> Any:
    """One ``opaque`` node for the call, with the observed outputs, in the call's result shape;
    ``label`` names what it is (``nn.Unfold``, ``torch.fft.rfft``)."""
    inputs = _tensor_refs((args, kwargs))
    observed = [(_symbolic(b, s.shape, inputs), s.dtype) for s in _flat(call.output)]
    if not observed:  # no tensor came out (a Python number): it is what the call returned
        return call.output
    unknown = sorted({dtype for _, dtype in observed if dtype not in KNOWN_DTYPES})
    if unknown:  # later rules could not read them: refuse here, naming the call
        raise UnsupportedError(f"{b.where}: {label} returns {', '.join(unknown)} tensors, which graphnn "
                               f"cannot represent yet")
    outputs = b.emit(OPAQUE, inputs, params=params, num_outputs=len(observed), observed=observed,
                     layer=label, macs=call.macs)
    refs = outputs if isinstance(outputs, list) else [outputs]
    return _rebuild(call.output, list(refs))


def observe_fx(model: torch.nn.Module, fx_graph: fx.Graph, values: list) -> dict[str, Call]:
    """Run the traced graph once on the placeholders' ``values`` (fx's Interpreter), recording
    each function and method call's output and products by fx node name: how an op without a
    rule (``torch.fft.rfft``) shows its shapes. Empty when the graph cannot be replayed."""
    from torch.utils.flop_counter import FlopCounterMode

    calls: dict[str, Call] = {}

    class _Recorder(fx.Interpreter):
        def run_node(self, node):
            if node.op not in ("call_function", "call_method"):
                return super().run_node(node)
            with FlopCounterMode(display=False) as counter:
                result = super().run_node(node)
            calls[node.name] = Call(_seen(result), counter.get_total_flops() // 2)
            return result

    try:
        with torch.no_grad():
            _Recorder(fx.GraphModule(model, fx_graph)).run(*values)
    except Exception:  # a replay fx cannot run: the caller reports the op as unsupported
        return {}
    return calls


class Observations:
    """What one real run showed of the calls without a rule, observed on first need: one per
    fx trace, shared with the replay of a wrapped function's body, so each observed layer call
    is taken once, in order, whichever replay meets it."""

    def __init__(self, model: torch.nn.Module, inputs: ModelInputs):
        self.model = model
        self.inputs = inputs
        self.layers: Optional[dict[str, list[Call]]] = None
        self.calls: Optional[dict[str, Call]] = None

    def layer_call(self, path: str, wanted: Callable[[str, torch.nn.Module], bool]) -> Optional[Call]:
        """The next call of layer ``path``; one forward observes every layer ``wanted`` picks."""
        if self.layers is None:
            self.layers = observe(self.model, self.inputs, wanted)
        calls = self.layers.get(path)
        return calls.pop(0) if calls else None

    def function_call(self, fx_graph: fx.Graph, name: str, examples: Callable[[], list]) -> Optional[Call]:
        """The call fx node ``name`` made, from one run of ``fx_graph`` on ``examples()``."""
        if self.calls is None:
            self.calls = observe_fx(self.model, fx_graph, examples())
        return self.calls.get(name)
