"""Rules for recurrent layers: nn.RNN (tanh, relu), nn.LSTM, nn.GRU and their cells
(nn.RNNCell, nn.LSTMCell, nn.GRUCell).

Each torch call becomes one IR node (``rnn`` / ``lstm`` / ``gru``, or ``*_cell``) that
holds the layer's own weights, so `graphnn graph` shows one row per layer and the ONNX
lowering can emit one RNN / LSTM / GRU node per torch layer instead of an unrolled loop.
Unbatched inputs get a batch dim of 1 around that node (unsqueeze / squeeze), so the op
itself only knows batched tensors.
"""
import torch.nn as nn

from graphnn.frontend.rules import Ref, layer_label, module_rule

_LAYER_OPS = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}
_CELL_OPS = {nn.RNNCell: "rnn_cell", nn.LSTMCell: "lstm_cell", nn.GRUCell: "gru_cell"}


@module_rule(*_LAYER_OPS)
def recurrent_layer(b, module, input, hx=None):
    """``output, h_n = rnn(x, h0)``; LSTM: ``output, (h_n, c_n) = lstm(x, (h0, c0))``."""
    op = _LAYER_OPS[type(module)]
    _check_supported(b, module, input)
    if getattr(module, "proj_size", 0):
        raise b.unsupported(
            f"{layer_label(type(module))} with proj_size={module.proj_size} (ONNX LSTM has no output "
            "projection and graphnn does not unroll recurrences); use proj_size=0, e.g. with a "
            "nn.Linear on the outputs"
        )
    states = _states(b, module, op, hx)
    unbatched = b.rank(input) == 2
    if unbatched:  # (seq, features): a batch of one at dim 1, whatever batch_first says
        input, states = _add_batch_dim(b, input, states, dim=1)
    outputs = b.emit(
        op, [input, *states], params=dict(module.named_parameters(recurse=False)),
        num_outputs=3 if op == "lstm" else 2, hidden_size=module.hidden_size,
        num_layers=module.num_layers, bidirectional=module.bidirectional,
        batch_first=module.batch_first and not unbatched, **_nonlinearity(module),
    )
    if unbatched:
        outputs = [b.emit("squeeze", [o], dims=[1]) for o in outputs]
    output, *final = outputs
    return output, (tuple(final) if op == "lstm" else final[0])


@module_rule(*_CELL_OPS)
def recurrent_cell(b, module, input, hx=None):
    """One time step: ``h = cell(x, h)``; LSTMCell: ``h, c = cell(x, (h, c))``."""
    op = _CELL_OPS[type(module)]
    _check_supported(b, module, input)
    states = _states(b, module, op, hx)
    unbatched = b.rank(input) == 1
    if unbatched:
        input, states = _add_batch_dim(b, input, states, dim=0)
    outputs = b.emit(
        op, [input, *states], params=dict(module.named_parameters(recurse=False)),
        num_outputs=2 if op == "lstm_cell" else 1, hidden_size=module.hidden_size,
        **_nonlinearity(module),
    )
    outputs = outputs if isinstance(outputs, list) else [outputs]
    if unbatched:
        outputs = [b.emit("squeeze", [o], dims=[0]) for o in outputs]
    return tuple(outputs) if op == "lstm_cell" else outputs[0]


def _check_supported(b, module, input):
    label = layer_label(type(module))
    if not isinstance(input, Ref):  # a PackedSequence, or a Python value
        raise b.unsupported(
            f"{label} on a {type(input).__name__} input (pass a padded tensor, not a PackedSequence)"
        )
    if b.dtype(input) != "float32":
        raise b.unsupported(
            f"{label} on {b.dtype(input)} inputs (onnxruntime runs ONNX recurrent ops in float32; "
            "convert the model and inputs with .float())"
        )


def _states(b, module, op, hx):
    """The initial states as a list of Refs: [], [h0] or, for LSTMs, [h0, c0]."""
    if hx is None:
        return []
    states = list(hx) if op.startswith("lstm") and isinstance(hx, (tuple, list)) else [hx]
    if len(states) != (2 if op.startswith("lstm") else 1) or not all(isinstance(s, Ref) for s in states):
        expected = "a tuple (h0, c0) of tensors" if op.startswith("lstm") else "a tensor h0"
        raise b.unsupported(f"{layer_label(type(module))} with hx={hx!r} (expects {expected})")
    return states


def _add_batch_dim(b, input, states, dim):
    """Unbatched call: input and states get a batch of one. The batch dim is the same
    for both: 1 for layers (seq, batch, features) / (layers*dirs, batch, hidden), 0 for
    cells (batch, features) / (batch, hidden)."""
    return (b.emit("unsqueeze", [input], dims=[dim]),
            [b.emit("unsqueeze", [s], dims=[dim]) for s in states])


def _nonlinearity(module):
    """nn.RNN / nn.RNNCell's activation; the gated layers have fixed ones."""
    return {"nonlinearity": module.nonlinearity} if hasattr(module, "nonlinearity") else {}
