"""Lowerings of ``rnn`` / ``gru`` / ``lstm`` and their cells to ONNX RNN / GRU / LSTM:
one ONNX node per torch layer (direction="bidirectional" covers both directions), never
an unrolled Loop, Scan or per-step MatMul.

What differs between torch and ONNX, and is converted here:
- gate order of the stacked weights: torch LSTM i,f,g,o -> ONNX i,o,f,c; torch GRU
  r,z,n -> ONNX z,r,h (with linear_before_reset=1, which is torch's GRU);
- B is concat(bias_ih, bias_hh) per direction; no bias -> no B (ONNX's zeros);
- ONNX Y is (seq, dirs, batch, hidden); torch's output is (seq, batch, dirs*hidden),
  which is also the next layer's input. batch_first is a Transpose at either end (ONNX's
  layout=1 needs opset 14, and onnxruntime's CPU kernels do not run it);
- torch's initial states stack all layers (layers*dirs, batch, hidden): each layer gets
  its slice, and the final states are concatenated back;
- a packed sequence's lengths are every layer's ``sequence_lens`` (int32).
A cell is the same node on a sequence of length 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import onnx
import torch

from graphnn.backend.onnx.registry import lowers
from graphnn.ops.recurrent import GRU, GRU_CELL, LSTM, LSTM_CELL, RNN, RNN_CELL


@dataclass(frozen=True)
class Family:
    onnx_op: str
    gate_order: tuple  # torch's gate blocks, listed in ONNX's order
    num_states: int  # h, or h and c
    attrs: dict = field(default_factory=dict)  # fixed ONNX attributes


FAMILIES = {  # layer op name -> its ONNX family; a cell's op is the layer's name + "_cell"
    LSTM.name: Family("LSTM", (0, 3, 1, 2), 2),
    GRU.name: Family("GRU", (1, 0, 2), 1, {"linear_before_reset": 1}),
    RNN.name: Family("RNN", (0,), 1),
}
_CELLS = {LSTM_CELL.name: FAMILIES[LSTM.name], GRU_CELL.name: FAMILIES[GRU.name], RNN_CELL.name: FAMILIES[RNN.name]}
_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu"}


@lowers(RNN, GRU, LSTM)
def recurrent_layer(ctx, node):
    family = FAMILIES[node.op]
    layers, directions = node.attrs["num_layers"], 2 if node.attrs["bidirectional"] else 1
    batch_first = node.attrs["batch_first"]
    x, *states = ctx.inputs(node)
    lengths = ctx.add1("Cast", [states.pop()], to=onnx.TensorProto.INT32) if node.attrs.get("lengths") else ""
    if batch_first:
        x = ctx.add1("Transpose", [x], perm=[1, 0, 2])
    state_names = _final_state_names(ctx, node, family, one_layer=layers == 1)
    finals: list[list[str]] = [[] for _ in range(family.num_states)]
    for layer in range(layers):
        last = layer == layers - 1
        tags = [f"_l{layer}"] + ([f"_l{layer}_reverse"] if directions == 2 else [])
        y, *layer_finals = run_recurrent(
            ctx, node, family, x, tags, [_layer_slice(ctx, s, layer, directions, layers) for s in states],
            state_names, want_y=not last or _used(ctx, node, 0), lengths=lengths,
        )
        for acc, name in zip(finals, layer_finals):
            acc.append(name)
        if y:
            x = _torch_output(ctx, y, directions, batch_first and last, ctx.output(node) if last else None)
    if layers > 1:
        for i, names in enumerate(finals):
            if state_names[i] != "":  # read downstream
                ctx.add1("Concat", names, ctx.output(node, 1 + i), axis=0)


def _final_state_names(ctx, node, family: Family, one_layer: bool) -> list[Optional[str]]:
    """Where each ONNX node's final states go: '' when nobody reads that state, else
    the IR output itself for a one-layer torch layer, or None (a fresh name, to be
    concatenated across layers)."""
    first = 1 if node.op in FAMILIES else 0  # a layer's outputs start with the sequence
    names = []
    for i in range(family.num_states):
        if not _used(ctx, node, first + i):
            names.append("")
        else:
            names.append(ctx.output(node, first + i) if one_layer else None)
    return names


def _used(ctx, node, index: int) -> bool:
    """Whether output ``index`` is read (``_, (h_n, _) = lstm(x)`` reads only h_n): the
    ONNX node leaves unread outputs empty, and their reshapes and concats are not emitted."""
    value = node.outputs[index]
    return bool(ctx.graph.consumers(value)) or value in ctx.graph.outputs


@lowers(RNN_CELL, GRU_CELL, LSTM_CELL)
def recurrent_cell(ctx, node):
    """(batch, features) -> a sequence of one step; the final states are the outputs."""
    family = _CELLS[node.op]
    axis = ctx.const([0], hint="axis")
    x, *states = [ctx.add1("Unsqueeze", [name, axis]) for name in ctx.inputs(node)]
    state_names = _final_state_names(ctx, node, family, one_layer=False)
    finals = run_recurrent(ctx, node, family, x, [""], states, state_names, want_y=False)[1:]
    for i, name in enumerate(finals):
        if name:
            ctx.add1("Squeeze", [name, axis], ctx.output(node, i))


def run_recurrent(ctx, node, family: Family, x: str, tags: list[str], states: list[str],
                  state_names: list[Optional[str]], want_y: bool = True, lengths: str = "") -> list[str]:
    """One ONNX RNN / GRU / LSTM node over seq-first ``x`` for the directions whose
    torch parameters end in ``tags``; returns [Y, Y_h(, Y_c)] names ('' when not wanted).
    ``state_names``: the name for each final state, None for a fresh one, '' for none.
    ``lengths``: sequence_lens, or '' for every sequence running its full length."""
    prefix = node.module or node.name
    inputs = [x] + _onnx_weights(ctx, node, family, tags)
    if states or lengths:
        inputs += [""] * (4 - len(inputs)) + [lengths] + list(states)
    outputs = [ctx.fresh(f"{prefix}/{family.onnx_op}_Y") if want_y else ""]
    outputs += [ctx.fresh(f"{prefix}/{family.onnx_op}_Y_{'hc'[i]}") if name is None else name
                for i, name in enumerate(state_names)]
    directions = len(tags)
    activations = None
    if "nonlinearity" in node.attrs:
        activations = [_ACTIVATIONS[node.attrs["nonlinearity"]]] * directions
    named = list(outputs)
    while named and not named[-1]:  # trailing unread outputs are left off
        named.pop()
    ctx.add(
        family.onnx_op, inputs, named, hidden_size=node.attrs["hidden_size"],
        direction="bidirectional" if directions == 2 else None, activations=activations, **family.attrs,
    )
    return outputs


def _onnx_weights(ctx, node, family: Family, tags: list[str]) -> list[str]:
    """Initializers W, R and (with bias) B, named ``<layer>.W_l0``. A layer called twice
    has the same module path and weights, so its second call reuses the first's."""
    prefix = node.module or node.name
    suffix = tags[0].removesuffix("_reverse")

    def initializer(key, make):
        name = f"{prefix}.{key}{suffix}"
        return name if name in ctx.initializers else ctx.initializer(name, make())

    names = [initializer("W", lambda: _stacked(node, family, "weight_ih", tags)),
             initializer("R", lambda: _stacked(node, family, "weight_hh", tags))]
    if f"bias_ih{tags[0]}" in node.params:
        names.append(initializer("B", lambda: torch.stack([
            torch.cat([_reordered(node, family, f"bias_ih{t}"), _reordered(node, family, f"bias_hh{t}")])
            for t in tags])))
    return names


def _stacked(node, family: Family, name: str, tags: list[str]) -> torch.Tensor:
    """ONNX W / R: (directions, gates*hidden, features), gates in ONNX's order."""
    return torch.stack([_reordered(node, family, f"{name}{t}") for t in tags])


def _reordered(node, family: Family, key: str) -> torch.Tensor:
    blocks = node.params[key].chunk(len(family.gate_order))
    return torch.cat([blocks[i] for i in family.gate_order]).contiguous()


def _layer_slice(ctx, state: str, layer: int, directions: int, layers: int) -> str:
    """Layer ``layer``'s (directions, batch, hidden) rows of a stacked torch state."""
    if layers == 1:
        return state
    start = layer * directions
    return ctx.add1("Slice", [state, ctx.const([start], hint="start"), ctx.const([start + directions], hint="end"),
                              ctx.const([0], hint="axis")])


def _torch_output(ctx, y: str, directions: int, batch_first: bool, output: Optional[str]) -> str:
    """ONNX Y (seq, dirs, batch, hidden) -> torch's (seq, batch, dirs*hidden), or
    (batch, seq, dirs*hidden) for a batch_first layer's final output."""
    if directions == 1:
        squeezed = ctx.add1("Squeeze", [y, ctx.const([1], hint="axis")], None if batch_first else output)
        return ctx.add1("Transpose", [squeezed], output, perm=[1, 0, 2]) if batch_first else squeezed
    moved = ctx.add1("Transpose", [y], perm=[2, 0, 1, 3] if batch_first else [0, 2, 1, 3])
    return ctx.add1("Reshape", [moved, ctx.const([0, 0, -1], hint="shape")], output)
