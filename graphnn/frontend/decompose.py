"""torch's own decomposition of one ATen op, traced into a small fx graph.

The export frontend replays ATen ops through graphnn's rules; an op without a rule
(``aten.diff``, ``aten.logaddexp``...) is not refused at once: torch's decomposition table
(``torch._decomp``, or the op's CompositeImplicitAutograd kernel) says how it is computed
from other ATen ops, and ``make_fx`` records exactly that one op's decomposition, on the
program's own fake tensors, so its sizes keep torch.export's symbols. Everything else of
the program stays as it was: layers that have rules stay whole. The replay walks the small
graph in place of the op, and an op inside it without a rule is decomposed in turn.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional

import torch
import torch.fx as fx

# How deep a decomposition may nest (an op whose decomposition holds an op without a rule...).
MAX_DEPTH = 8


def decomposition(target: Any) -> Optional[Callable[..., Any]]:
    """torch's decomposition of the ATen op ``target``, or None when torch has none."""
    if not isinstance(target, torch._ops.OpOverload):
        return None
    from torch._decomp import decomposition_table
    function = decomposition_table.get(target)
    if function is None and target.has_kernel_for_dispatch_key(torch._C.DispatchKey.CompositeImplicitAutograd):
        function = target.decompose
    return function


def traced(node: fx.Node) -> Optional[fx.GraphModule]:
    """The ATen ops ``node``'s op decomposes into, one placeholder per input node of ``node``
    (in ``node.all_input_nodes`` order); None when torch has no decomposition of it or the
    decomposition gives the op back."""
    function = decomposition(node.target)
    inputs = node.all_input_nodes
    examples = [n.meta.get("val") for n in inputs]
    if function is None or any(e is None for e in examples):
        return None
    from torch._guards import detect_fake_mode
    from torch.fx.experimental.proxy_tensor import make_fx

    def call(*values: Any) -> Any:
        by_node = dict(zip(inputs, values))
        args = fx.node.map_arg(node.args, by_node.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, by_node.__getitem__)
        return node.target(*args, **kwargs)

    fake_mode = detect_fake_mode([node.meta.get("val"), *examples])
    try:
        with fake_mode if fake_mode is not None else contextlib.nullcontext():
            module = make_fx(call, decomposition_table={node.target: function}, tracing_mode="symbolic")(*examples)
    except Exception:  # torch's decomposition does not trace here: refused as having none
        return None
    if any(n.target == node.target for n in module.graph.nodes):
        return None
    return module

