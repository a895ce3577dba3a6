"""Shape rules for recurrent layers and cells, in torch's layout.

``rnn`` / ``gru`` / ``lstm``: x (seq, batch, features), or (batch, seq, features) with
``batch_first``; optional initial states (layers*dirs, batch, hidden); with ``lengths`` (a
packed sequence's), a last input of each row's length (batch,). Outputs: output (x's
leading dims, dirs*hidden), h_n[, c_n] (layers*dirs, batch, hidden).
``rnn_cell`` / ``gru_cell`` / ``lstm_cell``: x (batch, features), states (batch, hidden);
outputs h'[, c'] (batch, hidden). Unbatched calls were given a batch of one by the rule.
"""
import math

from graphnn.ops.dims import fmt
from graphnn.ops.opdef import define
from graphnn.ops.registry import ShapeMismatch, TensorType


def recurrent_layer(node, x, *states):
    hidden = node.attrs["hidden_size"]
    directions = 2 if node.attrs["bidirectional"] else 1
    if len(x.shape) != 3:
        raise ShapeMismatch(f"expects a 3-d (sequence) input or a 2-d unbatched one, gets {fmt(x.shape)}")
    _check_features(node, x)
    batch = x.shape[0] if node.attrs["batch_first"] else x.shape[1]
    if node.attrs.get("lengths"):
        *states, lengths = states
        _check_lengths(lengths, batch)
    state = TensorType((node.attrs["num_layers"] * directions, batch, hidden), x.dtype)
    _check_states(states, state, batch_dim=1)
    output = TensorType(x.shape[:2] + (directions * hidden,), x.dtype)
    return [output] + [state] * (2 if node.op == LSTM.name else 1)


def recurrent_cell(node, x, *states):
    if len(x.shape) != 2:
        raise ShapeMismatch(f"expects a 2-d input (batch, features) or a 1-d unbatched one, gets {fmt(x.shape)}")
    _check_features(node, x)
    state = TensorType((x.shape[0], node.attrs["hidden_size"]), x.dtype)
    _check_states(states, state, batch_dim=0)
    return [state] * (2 if node.op == LSTM_CELL.name else 1)


def _check_features(node, x):
    weight = node.params.get("weight_ih_l0", node.params.get("weight_ih"))
    if x.shape[-1] != weight.shape[1]:
        raise ShapeMismatch(f"expects {weight.shape[1]} input features, gets {x.shape[-1]}")


def _check_lengths(lengths, batch):
    if lengths.dtype not in ("int64", "int32") or len(lengths.shape) != 1:
        raise ShapeMismatch(f"expects 1-d integer lengths, gets {fmt(lengths.shape)} {lengths.dtype}")
    if isinstance(batch, int) and isinstance(lengths.shape[0], int) and lengths.shape[0] != batch:
        raise ShapeMismatch(f"expects a length for each of the {batch} sequences, gets {lengths.shape[0]}")


def _check_states(states, expected, batch_dim):
    """Each given state has exactly the expected shape. A dynamic dim in one and a fixed
    size in the other means the dynamic dims were not named for the states (by default
    only dim 0 of an input is the batch), which would fail once the batch changes."""
    for name, state in zip(("h0", "c0"), states):
        if tuple(state.shape) == tuple(expected.shape):
            continue
        detail = f"expects {name} of shape {fmt(expected.shape)}, gets {fmt(state.shape)}"
        if any(not isinstance(d, int) for d in state.shape + expected.shape):
            detail += (f" (the batch is dim {batch_dim} of the states: name every input's dynamic dims, "
                       "e.g. dynamic_dims=[{0: 'seq', 1: 'batch'}, {1: 'batch'}] or --dynamic)")
        raise ShapeMismatch(detail)


def recurrent_macs(ins, outs, params):
    """Per step and batch row, each gate weight matrix (input and hidden, each layer and
    direction) is one matrix-vector product."""
    steps = math.prod(ins[0][:-1])  # seq x batch (or batch for a cell)
    weights = [shape for name, shape in params.items() if name.startswith("weight_")]  # [gates*H, in]
    return steps * sum(shape[0] * shape[1] for shape in weights)


def recurrent_label(attrs, weights):
    out = {"hidden": attrs.get("hidden_size")}
    if attrs.get("num_layers", 1) != 1:
        out["layers"] = attrs["num_layers"]
    if attrs.get("bidirectional"):
        out["bidirectional"] = True
    return out


RNN = define("rnn", shape=recurrent_layer, macs=recurrent_macs, label=recurrent_label)
GRU = define("gru", shape=recurrent_layer, macs=recurrent_macs, label=recurrent_label)
LSTM = define("lstm", shape=recurrent_layer, macs=recurrent_macs, label=recurrent_label)
RNN_CELL = define("rnn_cell", shape=recurrent_cell, macs=recurrent_macs, label=recurrent_label)
GRU_CELL = define("gru_cell", shape=recurrent_cell, macs=recurrent_macs, label=recurrent_label)
LSTM_CELL = define("lstm_cell", shape=recurrent_cell, macs=recurrent_macs, label=recurrent_label)
