"""Rules for recurrent layers: nn.RNN (tanh, relu), nn.LSTM, nn.GRU and their cells
(nn.RNNCell, nn.LSTMCell, nn.GRUCell), and the functions those layers call
(``torch.lstm``, ``torch.gru_cell``...: what torch.export records as ``aten.lstm``).

Each torch call becomes one IR node (``rnn`` / ``lstm`` / ``gru``, or ``*_cell``) that
holds the layer's own weights under torch's names (``weight_ih_l0``), so `graphnn graph`
shows one row per layer and the ONNX lowering can emit one RNN / LSTM / GRU node per
torch layer instead of an unrolled loop. Unbatched inputs get a batch dim of 1 around
that node (unsqueeze / squeeze), so the op itself only knows batched tensors. Initial
states that are all zeros (``torch.zeros(...)`` in forward, or what nn.LSTM makes itself
under torch.export) are dropped: zeros are what the op starts from anyway.

Packed sequences (``pack_padded_sequence`` -> layer -> ``pad_packed_sequence``, under fx)
stay padded: the packing is a ``Packed`` (the padded tensor, its lengths, its layout) and
the layer takes the lengths as ONNX's ``sequence_lens``, so each row stops at its own length
(a reverse direction starts there) and its outputs past it are zeros, as torch pads them.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn.utils import rnn as rnn_utils

from graphnn.frontend.layers.indexing import index_tensor
from graphnn.frontend.layers.shape import shape_of
from graphnn.frontend.rules import (Ref, function_rule, function_rule_for, kept_whole_under_fx, layer_label,
                                    module_rule)
from graphnn.ops.recurrent import GRU, GRU_CELL, LSTM, LSTM_CELL, RNN, RNN_CELL
from graphnn.ops.shape import EXPAND, SQUEEZE, UNSQUEEZE
from graphnn.ops.structural import CONSTANT

_LAYER_OPS = {nn.RNN: RNN, nn.LSTM: LSTM, nn.GRU: GRU}
_CELL_OPS = {nn.RNNCell: RNN_CELL, nn.LSTMCell: LSTM_CELL, nn.GRUCell: GRU_CELL}


@dataclass(frozen=True)
class Packed:
    """A PackedSequence as graphnn holds it: still padded, with the lengths beside it."""

    padded: Ref
    lengths: Ref
    batch_first: bool


@module_rule(*_LAYER_OPS)
def recurrent_layer(b, module, input, hx=None):
    """``output, h_n = rnn(x, h0)``; LSTM: ``output, (h_n, c_n) = lstm(x, (h0, c0))``. A
    packed input gives a packed output; its layout is the packing's, not the layer's."""
    op = _LAYER_OPS[type(module)]
    label = layer_label(type(module))
    if getattr(module, "proj_size", 0):
        raise _proj_size_refused(b, f"{label} with proj_size={module.proj_size}")
    packed = input if isinstance(input, Packed) else None
    output, *final = emit_layer(
        b, op, label, packed.padded if packed else input, _states(b, label, op, hx),
        dict(module.named_parameters(recurse=False)), num_layers=module.num_layers,
        bidirectional=module.bidirectional, batch_first=packed.batch_first if packed else module.batch_first,
        lengths=packed.lengths if packed else None, **_nonlinearity(module),
    )
    if packed:
        output = Packed(output, packed.lengths, packed.batch_first)
    return output, (tuple(final) if op is LSTM else final[0])


@kept_whole_under_fx(rnn_utils, "pack_padded_sequence")
def pack_padded_sequence(b, input, lengths, batch_first=False, enforce_sorted=True):
    """The order (enforce_sorted) only matters to torch's packing: ONNX takes any."""
    if not isinstance(lengths, Ref):
        lengths = b.constant(torch.as_tensor(lengths, dtype=torch.int64))
    if b.rank(lengths) != 1:
        raise b.shape_error(f"expects 1-d lengths, gets {b.rank(lengths)}-d")
    return Packed(input, lengths, bool(batch_first))


@kept_whole_under_fx(rnn_utils, "pad_packed_sequence")
def pad_packed_sequence(b, sequence, batch_first=False, padding_value=0.0, total_length=None):
    """(padded, lengths). torch pads to the longest length, or to ``total_length``; the padded
    tensor here is as long as the packed input was, so it is cut (or padded) to that."""
    if not isinstance(sequence, Packed):
        raise b.unsupported(f"pad_packed_sequence of a {type(sequence).__name__} (graphnn follows a "
                            "PackedSequence from pack_padded_sequence through RNN / LSTM / GRU layers)")
    padded, seq_dim = sequence.padded, 1 if sequence.batch_first else 0
    if padding_value != 0.0:
        padded = _padded_with(b, padded, sequence.lengths, seq_dim, padding_value)
    padded = _to_length(b, padded, sequence.lengths, seq_dim, total_length)
    if sequence.batch_first != bool(batch_first):
        padded = function_rule_for(torch.transpose)(b, padded, 0, 1)
    return padded, sequence.lengths


def _padded_with(b, padded, lengths, seq_dim: int, value: float) -> Ref:
    """``value`` at every position past its row's length (torch's padding_value)."""
    size = shape_of(b, padded)[seq_dim]
    positions = function_rule_for(torch.arange)(b, size)
    along_seq = function_rule_for(torch.unsqueeze)(b, positions, 1 - seq_dim)  # (seq, 1) or (1, seq)
    along_batch = function_rule_for(torch.unsqueeze)(b, lengths, seq_dim)  # (1, batch) or (batch, 1)
    within = function_rule_for(torch.lt)(b, along_seq, along_batch)
    keep = function_rule_for(torch.unsqueeze)(b, within, -1)
    return function_rule_for(torch.where)(b, keep, padded, value)


def _to_length(b, padded, lengths, seq_dim: int, total_length) -> Ref:
    """The seq dim cut to the longest length, or to ``total_length`` (``x.size(1)``, traced,
    is the usual one: the padded length itself), zero-padded up to a larger int one."""
    size = b.shape(padded)[seq_dim]
    if total_length is None or isinstance(total_length, Ref):
        end = function_rule_for(torch.max)(b, lengths) if total_length is None else total_length
        return index_tensor(b, padded, (slice(None),) * seq_dim + (slice(None, end),))
    if not isinstance(size, int):
        return index_tensor(b, padded, (slice(None),) * seq_dim + (slice(None, total_length),))
    if total_length < size:
        raise b.shape_error(f"expects total_length >= the packed length {size}, gets {total_length}")
    pads = [0, 0, 0, 0, 0, total_length - size] if seq_dim == 0 else [0, 0, 0, total_length - size]
    return function_rule_for(torch.nn.functional.pad)(b, padded, pads) if total_length > size else padded


@module_rule(*_CELL_OPS)
def recurrent_cell(b, module, input, hx=None):
    """One time step: ``h = cell(x, h)``; LSTMCell: ``h, c = cell(x, (h, c))``."""
    op = _CELL_OPS[type(module)]
    label = layer_label(type(module))
    outputs = emit_cell(b, op, label, input, _states(b, label, op, hx),
                        dict(module.named_parameters(recurse=False)), **_nonlinearity(module))
    return tuple(outputs) if op is LSTM_CELL else outputs[0]


def _functional_layer(op, label, **fixed):
    """torch.lstm / torch.gru / torch.rnn_tanh / torch.rnn_relu(input, hx, params, has_biases,
    num_layers, dropout, train, bidirectional, batch_first): a flat tuple of outputs."""
    def rule(b, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
        if not isinstance(params, (list, tuple)):  # the PackedSequence overload (data, batch_sizes, ...)
            raise b.unsupported(f"{label} on a PackedSequence (pass a padded tensor)")
        if train and dropout:
            raise b.unsupported(f"{label} with dropout in training mode (export in eval mode)")
        names = _layer_param_names(num_layers, bidirectional, has_biases)
        if len(params) != len(names):  # an LSTM with proj_size adds weight_hr per direction
            raise _proj_size_refused(b, f"{label} with projection weights (an LSTM with proj_size)")
        weights = {name: b.module_tensor(p, f"{label} weight") for name, p in zip(names, params)}
        return tuple(emit_layer(b, op, label, input, _states(b, label, op, hx), weights, num_layers=num_layers,
                                bidirectional=bidirectional, batch_first=batch_first, **fixed))
    return rule


function_rule(torch.lstm)(_functional_layer(LSTM, "torch.lstm"))
function_rule(torch.gru)(_functional_layer(GRU, "torch.gru"))
function_rule(torch.rnn_tanh)(_functional_layer(RNN, "torch.rnn_tanh", nonlinearity="tanh"))
function_rule(torch.rnn_relu)(_functional_layer(RNN, "torch.rnn_relu", nonlinearity="relu"))


def _functional_cell(op, label, **fixed):
    """torch.lstm_cell / torch.gru_cell / torch.rnn_*_cell(input, hx, w_ih, w_hh, b_ih, b_hh)."""
    def rule(b, input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        tensors = {"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih, "bias_hh": b_hh}
        weights = {k: b.module_tensor(v, f"{label} weight") for k, v in tensors.items() if v is not None}
        if ("bias_ih" in weights) != ("bias_hh" in weights):
            raise b.unsupported(f"{label} with only one of b_ih and b_hh")
        outputs = emit_cell(b, op, label, input, _states(b, label, op, hx), weights, **fixed)
        return tuple(outputs) if op is LSTM_CELL else outputs[0]
    return rule


function_rule(torch.lstm_cell)(_functional_cell(LSTM_CELL, "torch.lstm_cell"))
function_rule(torch.gru_cell)(_functional_cell(GRU_CELL, "torch.gru_cell"))
function_rule(torch.rnn_tanh_cell)(_functional_cell(RNN_CELL, "torch.rnn_tanh_cell", nonlinearity="tanh"))
function_rule(torch.rnn_relu_cell)(_functional_cell(RNN_CELL, "torch.rnn_relu_cell", nonlinearity="relu"))


def emit_layer(b, op, label, input, states, weights, *, batch_first, lengths=None, **attrs):
    """The ``rnn`` / ``gru`` / ``lstm`` node: [output, h_n(, c_n)] Refs; ``lengths`` (a
    packed input's) is its last input."""
    _check_input(b, label, input)
    unbatched = b.rank(input) == 2
    if unbatched:  # (seq, features): a batch of one at dim 1, whatever batch_first says
        input, states = _add_batch_dim(b, input, states, dim=1)
    if lengths is not None:
        states, attrs = [*states, lengths], {**attrs, "lengths": True}
    outputs = b.emit(op, [input, *states], params=weights, num_outputs=3 if op is LSTM else 2,
                     hidden_size=weights["weight_hh_l0"].shape[1], batch_first=batch_first and not unbatched,
                     **attrs)
    return [b.emit(SQUEEZE, [o], dims=[1]) for o in outputs] if unbatched else outputs


def emit_cell(b, op, label, input, states, weights, **attrs):
    """The ``rnn_cell`` / ``gru_cell`` / ``lstm_cell`` node: [h'(, c')] Refs."""
    _check_input(b, label, input)
    unbatched = b.rank(input) == 1
    if unbatched:
        input, states = _add_batch_dim(b, input, states, dim=0)
    outputs = b.emit(op, [input, *states], params=weights, num_outputs=2 if op is LSTM_CELL else 1,
                     hidden_size=weights["weight_hh"].shape[1], **attrs)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [b.emit(SQUEEZE, [o], dims=[0]) for o in outputs] if unbatched else outputs


def _layer_param_names(num_layers, bidirectional, has_biases):
    """torch's flat weight order: per layer, per direction, w_ih, w_hh(, b_ih, b_hh)."""
    kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if has_biases else [])
    suffixes = ["", "_reverse"] if bidirectional else [""]
    return [f"{kind}_l{layer}{suffix}" for layer in range(num_layers) for suffix in suffixes for kind in kinds]


def _proj_size_refused(b, what):
    return b.unsupported(
        f"{what} (ONNX LSTM has no output projection and graphnn does not unroll "
        "recurrences); use proj_size=0, e.g. with a nn.Linear on the outputs"
    )


def _check_input(b, label, input):
    if not isinstance(input, Ref):  # a PackedSequence, or a Python value
        raise b.unsupported(
            f"{label} on a {type(input).__name__} input (pass a padded tensor, not a PackedSequence)"
        )
    if b.dtype(input) != "float32":
        raise b.unsupported(
            f"{label} on {b.dtype(input)} inputs (onnxruntime runs ONNX recurrent ops in float32; "
            "convert the model and inputs with .float())"
        )


def _states(b, label, op, hx):
    """The initial states as a list of Refs: [], [h0] or, for LSTMs, [h0, c0]; [] when
    they are all zeros."""
    if hx is None:
        return []
    lstm = op in (LSTM, LSTM_CELL)
    states = list(hx) if lstm and isinstance(hx, (tuple, list)) else [hx]
    if len(states) != (2 if lstm else 1) or not all(isinstance(s, Ref) for s in states):
        expected = "a tuple (h0, c0) of tensors" if lstm else "a tensor h0"
        raise b.unsupported(f"{label} with hx={hx!r} (expects {expected})")
    return [] if all(_is_zeros(b, s) for s in states) else states


def _is_zeros(b, ref):
    """A constant of zeros, or a zero expanded to traced sizes (``torch.zeros(2, x.size(0), 4)``)."""
    producer = b.graph.producer(ref.name)
    if producer is not None and producer.op == EXPAND.name:
        producer = b.graph.producer(producer.inputs[0])
    return producer is not None and producer.op == CONSTANT.name and not producer.params["value"].any()


def _add_batch_dim(b, input, states, dim):
    """Unbatched call: input and states get a batch of one. The batch dim is the same
    for both: 1 for layers (seq, batch, features) / (layers*dirs, batch, hidden), 0 for
    cells (batch, features) / (batch, hidden)."""
    return (b.emit(UNSQUEEZE, [input], dims=[dim]),
            [b.emit(UNSQUEEZE, [s], dims=[dim]) for s in states])


def _nonlinearity(module):
    """nn.RNN / nn.RNNCell's activation; the gated layers have fixed ones."""
    return {"nonlinearity": module.nonlinearity} if hasattr(module, "nonlinearity") else {}
