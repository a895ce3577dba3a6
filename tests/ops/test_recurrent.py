"""Parity of recurrent layers: nn.RNN (tanh, relu), nn.LSTM, nn.GRU (multi-layer,
bidirectional, batch_first both ways, bias or not, initial states or not, unbatched, packed
sequences) and nn.RNNCell / nn.LSTMCell / nn.GRUCell; one ONNX RNN / LSTM / GRU node per
torch layer."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, attr, export_checked, onnx_ops

LAYERS = {  # name: (class, extra constructor arguments)
    "rnn_tanh": (nn.RNN, {}),
    "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, {}),
    "gru": (nn.GRU, {}),
}
ONNX_OP = {nn.RNN: "RNN", nn.LSTM: "LSTM", nn.GRU: "GRU"}

CONFIGS = {  # name: (constructor arguments, input shape, pass initial states)
    "2_layers_bidirectional_batch_first": ({"num_layers": 2, "bidirectional": True, "batch_first": True}, (2, 5, 6), False),
    "seq_first_no_bias": ({"bias": False}, (5, 2, 6), False),
    "3_layers_seq_first_with_state": ({"num_layers": 3}, (5, 2, 6), True),
    "bidirectional_batch_first_with_state_no_bias": ({"bidirectional": True, "batch_first": True, "bias": False},
                                                     (2, 5, 6), True),
    "2_layers_bidirectional_seq_first_with_state": ({"num_layers": 2, "bidirectional": True}, (5, 2, 6), True),
    "2_layers_dropout_inactive_in_eval": ({"num_layers": 2, "dropout": 0.5}, (5, 2, 6), False),
    "unbatched": ({"num_layers": 2, "bidirectional": True, "batch_first": True}, (5, 6), False),
    "unbatched_with_state": ({"num_layers": 2}, (5, 6), True),
}


class Recurrent(nn.Module):
    """Calls the layer with or without initial states and returns every output."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, h0=None, c0=None):
        if h0 is None:
            out, final = self.layer(x)
        elif c0 is None:
            out, final = self.layer(x, h0)
        else:
            out, final = self.layer(x, (h0, c0))
        return (out, *final) if isinstance(final, tuple) else (out, final)


def _inputs(layer, shape, with_state):
    """x, then h0 (and c0 for an LSTM) of torch's (layers*dirs, batch, hidden) shape."""
    x = torch.randn(*shape)
    if not with_state:
        return (x,)
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    batch = () if x.dim() == 2 else (shape[0] if layer.batch_first else shape[1],)
    count = 2 if isinstance(layer, nn.LSTM) else 1
    return (x,) + tuple(torch.randn(rows, *batch, layer.hidden_size) for _ in range(count))


def _dynamic_dims(layer, inputs):
    """Every dynamic dim named: seq and batch on x, batch on the states."""
    x = inputs[0]
    if x.dim() == 2:
        return [{0: "seq"}] + [{} for _ in inputs[1:]]
    first = {0: "batch", 1: "seq"} if layer.batch_first else {0: "seq", 1: "batch"}
    return [first] + [{1: "batch"} for _ in inputs[1:]]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", LAYERS)
def test_recurrent_layer_parity(kind, config):
    torch.manual_seed(0)
    cls, extra = LAYERS[kind]
    kwargs, shape, with_state = CONFIGS[config]
    layer = cls(6, 4, **extra, **kwargs)
    inputs = _inputs(layer, shape, with_state)
    models = export_checked(Recurrent(layer), inputs, dynamic_dims=_dynamic_dims(layer, inputs))
    for model in models.values():
        ops = onnx_ops(model)
        assert ops.count(ONNX_OP[cls]) == layer.num_layers
        assert not {"Loop", "Scan", "MatMul", "Gemm"} & set(ops)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_two_layer_bidirectional_batch_first_is_two_onnx_nodes(cls):
    """The acceptance check: one ONNX node per torch layer, both directions in it."""
    torch.manual_seed(0)
    layer = cls(6, 4, num_layers=2, bidirectional=True, batch_first=True)
    graph = graphnn.trace(Recurrent(layer), torch.randn(2, 5, 6))
    assert graph.ops().count(cls.__name__.lower()) == 1  # one IR node for the torch layer
    models = export_checked(Recurrent(layer), torch.randn(2, 5, 6))
    for model in models.values():
        ops = onnx_ops(model)
        assert ops.count(ONNX_OP[cls]) == 2
        assert not {"Loop", "Scan", "MatMul", "Gemm", "If"} & set(ops)
        assert attr(model, ONNX_OP[cls], "direction") == b"bidirectional"
        assert attr(model, ONNX_OP[cls], "hidden_size") == 4


def test_gru_uses_torch_reset_semantics_and_rnn_its_activation():
    torch.manual_seed(0)
    gru = export_checked(nn.GRU(6, 4), torch.randn(5, 2, 6))[13]
    assert attr(gru, "GRU", "linear_before_reset") == 1
    rnn = export_checked(nn.RNN(6, 4, nonlinearity="relu", bidirectional=True), torch.randn(5, 2, 6))[13]
    assert attr(rnn, "RNN", "activations") == [b"Relu", b"Relu"]


class LastStep(nn.Module):
    """Both outputs read downstream: the last time step and the last layer's final state."""

    def __init__(self, cls, batch_first):
        super().__init__()
        self.rnn = cls(6, 8, num_layers=2, batch_first=batch_first, bidirectional=True)
        self.batch_first = batch_first
        self.lstm = cls is nn.LSTM
        self.fc = nn.Linear(16 + 8, 3)

    def forward(self, x):
        out, h_n = self.rnn(x)
        if self.lstm:  # (h_n, c_n); fx sees a Proxy, not a tuple, so ask the layer's type
            h_n = h_n[0]
        last = out[:, -1] if self.batch_first else out[-1]
        return self.fc(torch.cat([last, h_n[-1]], dim=1))


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("batch_first", [True, False])
def test_outputs_used_downstream(cls, batch_first):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 6) if batch_first else torch.randn(5, 3, 6)
    dims = [{0: "batch", 1: "seq"}] if batch_first else [{0: "seq", 1: "batch"}]
    export_checked(LastStep(cls, batch_first), x, dynamic_dims=dims)


class FinalHidden(nn.Module):
    """Seed 000's pattern: only the last layer's final hidden state is read."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 4, num_layers=2, batch_first=True)

    def forward(self, x):
        _, (hidden, _) = self.lstm(x)
        return hidden[-1, :, :]


def test_unread_outputs_are_not_computed():
    torch.manual_seed(0)
    models = export_checked(FinalHidden(), torch.randn(3, 5, 6), dynamic_dims=[{0: "batch", 1: "seq"}])
    for model in models.values():
        lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
        assert [list(n.output) for n in lstms] == [[lstms[0].output[0], lstms[0].output[1]], ["", lstms[1].output[1]]]
        assert onnx_ops(model).count("Concat") == 1  # h_n; no c_n, no reshape of the unread output


@pytest.mark.parametrize("batch_first", [True, False])
def test_default_dynamic_batch_is_where_the_layer_has_it(batch_first):
    """Without named dims, the batch varies where the layer has it: dim 0 when batch_first,
    else dim 1 (the sequence, dim 0, stays static)."""
    torch.manual_seed(0)
    x = torch.randn(4, 5, 6)
    model = export_checked(Recurrent(nn.LSTM(6, 4, num_layers=2, batch_first=batch_first)), x)[18]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == (["batch", 5, 6] if batch_first else [4, "batch", 6])


def test_bare_layer():
    torch.manual_seed(0)
    export_checked(nn.GRU(6, 4, num_layers=2), torch.randn(5, 2, 6), dynamic_dims=[{0: "seq", 1: "batch"}])


class TwoSequences(nn.Module):
    """One GRU run over two sequences (a siamese encoder): the layer is called twice."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 4, bidirectional=True)

    def forward(self, x, y):
        return self.gru(x)[1][-1] - self.gru(y)[1][-1]


def test_layer_called_twice_shares_its_onnx_weights():
    torch.manual_seed(0)
    inputs = (torch.randn(5, 2, 6), torch.randn(5, 2, 6))
    models = export_checked(TwoSequences(), inputs, dynamic_dims=[{0: "seq", 1: "batch"}] * 2)
    for model in models.values():
        assert onnx_ops(model).count("GRU") == 2
        assert sorted(i.name for i in model.graph.initializer if i.name.startswith("gru.")) == [
            "gru.B_l0", "gru.R_l0", "gru.W_l0"]


class ZeroState(nn.Module):
    """The tutorial habit: an explicit zero initial state sized from the input."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 4, num_layers=2)

    def forward(self, x):
        h0 = x.new_zeros(2, x.size(1), 4)
        out, _ = self.gru(x, h0)
        return out


def test_zero_initial_state_is_left_to_the_onnx_default():
    torch.manual_seed(0)
    models = export_checked(ZeroState(), torch.randn(5, 3, 6), dynamic_dims=[{0: "seq", 1: "batch"}])
    for model in models.values():
        assert onnx_ops(model) == ["GRU", "Squeeze", "GRU", "Squeeze"]
        assert all(len(n.input) <= 4 for n in model.graph.node if n.op_type == "GRU")  # no initial_h


SEQ_FIRST, BATCH_FIRST, STATE = {1: "batch"}, {0: "batch"}, {1: "batch"}
EXPORT_FRONTEND = {  # torch.export records aten.lstm / aten.gru_cell...: the functional rules
    # name: (model, input shapes, dynamic dims)
    "lstm_downstream": (lambda: LastStep(nn.LSTM, True), [(3, 5, 6)], [BATCH_FIRST]),
    "gru_with_state": (lambda: Recurrent(nn.GRU(6, 4, num_layers=2)), [(5, 3, 6), (2, 3, 4)], [SEQ_FIRST, STATE]),
    "rnn_relu_bidirectional": (lambda: Recurrent(nn.RNN(6, 4, nonlinearity="relu", bidirectional=True)),
                               [(5, 3, 6)], [SEQ_FIRST]),
    "lstm_cell": (lambda: Cell(nn.LSTMCell(6, 4)), [(3, 6)], [{0: "batch"}]),
    "gru_cell_with_state": (lambda: Cell(nn.GRUCell(6, 4)), [(3, 6), (3, 4)], [{0: "batch"}, {0: "batch"}]),
    "rnn_tanh_cell_no_bias": (lambda: Cell(nn.RNNCell(6, 4, bias=False)), [(3, 6)], [{0: "batch"}]),
}


@pytest.mark.filterwarnings("ignore:The tensor attributes self.*_flat_weights")  # torch's own RNN code
@pytest.mark.parametrize("name", EXPORT_FRONTEND)
def test_torch_export_frontend(name):
    """torch.export fixes the sequence length (it specializes on it), so only the batch varies."""
    torch.manual_seed(0)
    make, shapes, dims = EXPORT_FRONTEND[name]
    models = export_checked(make(), tuple(torch.randn(*s) for s in shapes), dynamic_dims=dims, frontend="export")
    expected = 1 if name == "rnn_relu_bidirectional" else 2  # layers, or the Cell model's two steps
    for model in models.values():
        ops = onnx_ops(model)
        assert sum(ops.count(op) for op in ("RNN", "LSTM", "GRU")) == expected
        assert not {"Loop", "Scan", "MatMul"} & set(ops)


def test_functional_lstm_with_projection_weights_is_refused():
    lstm = nn.LSTM(6, 4, proj_size=2)
    model = Wrap(lambda x: torch.lstm(x, (torch.zeros(1, 2, 2), torch.zeros(1, 2, 4)), lstm._flat_weights,
                                      True, 1, 0.0, False, False, False)[0], lstm)
    with pytest.raises(UnsupportedError, match=r"torch.lstm with projection weights .*use proj_size=0"):
        graphnn.trace(model, torch.randn(5, 2, 6))


CELLS = {"rnn_tanh": (nn.RNNCell, {}), "rnn_relu": (nn.RNNCell, {"nonlinearity": "relu"}),
         "lstm": (nn.LSTMCell, {}), "gru": (nn.GRUCell, {})}
CELL_CONFIGS = {  # name: (bias, batched, pass the state)
    "state": (True, True, True), "no_state": (True, True, False),
    "no_bias_state": (False, True, True), "unbatched_state": (True, False, True), "unbatched": (True, False, False),
}


class Cell(nn.Module):
    """Two steps of a cell, the second fed the first's state, as a hand-written loop does."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, h=None, c=None):
        state = None if h is None else (h if c is None else (h, c))
        state = self.cell(x, state)
        state = self.cell(x * 0.5, state)
        return state


@pytest.mark.parametrize("config", CELL_CONFIGS)
@pytest.mark.parametrize("kind", CELLS)
def test_cell_parity(kind, config):
    torch.manual_seed(0)
    cls, extra = CELLS[kind]
    bias, batched, with_state = CELL_CONFIGS[config]
    cell = cls(6, 4, bias=bias, **extra)
    batch = (3,) if batched else ()
    inputs = (torch.randn(*batch, 6),)
    if with_state:
        inputs += tuple(torch.randn(*batch, 4) for _ in range(2 if cls is nn.LSTMCell else 1))
    models = export_checked(Cell(cell), inputs)
    onnx_op = ONNX_OP[{nn.RNNCell: nn.RNN, nn.LSTMCell: nn.LSTM, nn.GRUCell: nn.GRU}[cls]]
    for model in models.values():
        ops = onnx_ops(model)
        assert ops.count(onnx_op) == 2  # one per step
        assert not {"Loop", "Scan", "MatMul", "Gemm"} & set(ops)


def test_lstm_cell_reading_only_h_leaves_c_off():
    torch.manual_seed(0)
    cell = nn.LSTMCell(6, 4)
    models = export_checked(Wrap(lambda x: cell(x)[0], cell), torch.randn(3, 6))
    for model in models.values():
        assert onnx_ops(model) == ["Unsqueeze", "LSTM", "Squeeze"]
        assert [len(n.output) for n in model.graph.node if n.op_type == "LSTM"] == [2]  # ["", Y_h]


def test_lstm_proj_size_is_refused_naming_the_layer():
    model = Recurrent(nn.LSTM(6, 4, proj_size=2))
    with pytest.raises(UnsupportedError, match=r"layer \(.*test_recurrent.py:\d+\): nn.LSTM with proj_size=2"):
        graphnn.trace(model, torch.randn(5, 2, 6))


def test_float64_is_refused_naming_the_layer():
    model = Recurrent(nn.GRU(6, 4).double())
    with pytest.raises(UnsupportedError, match=r"layer \(.*\): nn.GRU on float64 inputs .*\.float\(\)"):
        graphnn.trace(model, torch.randn(5, 2, 6, dtype=torch.float64))


def test_wrong_features_is_a_shape_error():
    with pytest.raises(ShapeError, match="expects 6 input features, gets 7"):
        graphnn.trace(Recurrent(nn.LSTM(6, 4)), torch.randn(5, 2, 7))


def test_wrong_initial_state_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"expects h0 of shape \(2, batch, 4\), gets \(1, batch, 4\)"):
        graphnn.trace(Recurrent(nn.GRU(6, 4, num_layers=2)), (torch.randn(5, 2, 6), torch.randn(1, 2, 4)),
                      dynamic_dims=[{1: "batch"}, {1: "batch"}])


def test_initial_state_left_static_under_a_dynamic_batch_says_how_to_name_it():
    """Named dims that leave h0's batch (dim 1) fixed would fail once the batch changes: a
    ShapeError at trace time says what to declare; by default h0's dim 1 is the batch."""
    model, inputs = Recurrent(nn.GRU(6, 4, batch_first=True)), (torch.randn(2, 5, 6), torch.randn(1, 2, 4))
    with pytest.raises(ShapeError, match=r"expects h0 of shape \(1, batch, 4\), gets \(1, 2, 4\) \(the batch is "
                                          r"dim 1 of the states: name every input's dynamic dims"):
        graphnn.trace(model, inputs, dynamic_dims=[{0: "batch"}, {}])
    assert graphnn.trace(model, inputs).values["h0"].shape == (1, "batch", 4)


class CellLoop(nn.Module):
    """A hand-written loop over time: fx cannot trace range(x.size(1)), torch.export can
    (the auto frontend falls back to it); zero initial states are dropped."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(6, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h, c = torch.zeros(x.size(0), 4), torch.zeros(x.size(0), 4)
        for t in range(x.size(1)):
            h, c = self.cell(x[:, t], (h, c))
        return self.fc(h)


def test_cell_in_a_python_loop_via_the_auto_frontend():
    torch.manual_seed(0)
    models = export_checked(CellLoop(), torch.randn(3, 5, 6))
    for model in models.values():
        lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
        assert len(lstms) == 5 and len(lstms[0].input) == 4  # one per step; the first: X W R B, no states


class PackedTagger(nn.Module):
    """The usual variable-length pattern: pack the padded batch, run the layer, pad it back."""

    def __init__(self, cls, batch_first=True, total_length=True, padding_value=0.0, **kwargs):
        super().__init__()
        self.rnn = cls(6, 4, batch_first=batch_first, **kwargs)
        self.batch_first, self.total_length, self.padding_value = batch_first, total_length, padding_value

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
        out, final = self.rnn(packed)
        total = x.size(1 if self.batch_first else 0) if self.total_length else None
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=self.batch_first, total_length=total,
                                                  padding_value=self.padding_value)
        return out, final


PACKED = {  # name: (class, constructor arguments)
    "lstm_bidirectional_batch_first": (nn.LSTM, {"bidirectional": True}),
    "gru_2_layers_bidirectional_seq_first": (nn.GRU, {"num_layers": 2, "bidirectional": True, "batch_first": False}),
    "rnn_longest_length_not_total": (nn.RNN, {"total_length": False}),
    "lstm_padding_value": (nn.LSTM, {"padding_value": -1.0, "bidirectional": True}),
}


@pytest.mark.parametrize("name", PACKED)
def test_packed_sequence_runs_each_row_to_its_length(name):
    """Each row stops at its length (the reverse direction starts there), the final states are
    each row's own, and the padding is torch's; the lengths are a model input (dynamic batch)."""
    torch.manual_seed(0)
    cls, kwargs = PACKED[name]
    model = PackedTagger(cls, **kwargs)
    x = torch.randn(3, 7, 6) if model.batch_first else torch.randn(7, 3, 6)
    models = export_checked(model, (x, torch.tensor([7, 3, 5])), dynamic_dims=None if model.batch_first else
                            [{1: "batch"}, {0: "batch"}])
    recurrent = next(n for n in models[18].graph.node if n.op_type == ONNX_OP[cls])
    assert recurrent.input[4]  # sequence_lens


def test_packed_sequence_with_the_lengths_in_python():
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 4, batch_first=True)
    packed = Wrap(lambda x: nn.utils.rnn.pad_packed_sequence(
        lstm(nn.utils.rnn.pack_padded_sequence(x, [5, 2], batch_first=True, enforce_sorted=False))[0],
        batch_first=True, total_length=5)[0], lstm)
    export_checked(packed, torch.randn(2, 5, 6), dynamic_batch=False)


def test_sequence_first_packed_lengths_are_batch_by_default():
    """A packed layer says its batch too: for sequence-first x (seq, batch, features) the batch is
    x's dim 1 and the lengths' dim 0, with no dims named."""
    torch.manual_seed(0)
    model = PackedTagger(nn.GRU, batch_first=False)
    onnx_model = export_checked(model, (torch.randn(7, 3, 6), torch.tensor([7, 3, 5])))[18]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in onnx_model.graph.input]
    assert dims == [[7, "batch", 6], ["batch"]]
