"""Model inputs beyond "dim 0 is the batch": user-named dynamic dims (a sequence-first RNN
has its batch in dim 1), inputs passed by keyword (transformers' ``input_ids=``), outputs
named after dict keys, lazy modules, and parity varying every dynamic dim."""

import onnx
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import InputSpecError, ShapeError, TraceError
from graphnn.inputs import like, model_inputs, parse_dynamic_spec
from graphnn.checking.parity import size_plans
from tests.parity_utils import Wrap
from tests.conftest import graphnn_cli, invoke



class SeqFirst(nn.Module):
    """(seq, batch, features) -> (batch, 3): a reduction over the sequence."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x).mean(0)


def onnx_dims(model: onnx.ModelProto) -> list[list]:
    return [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input]


def test_named_dynamic_dims_stay_symbolic_and_parity_varies_each():
    torch.manual_seed(0)
    result = graphnn.export(SeqFirst(), torch.randn(7, 2, 4), dynamic_dims=[{0: "seq", 1: "batch"}])
    assert result.graph.values["x"].shape == ("seq", "batch", 4)
    assert onnx_dims(result.onnx_model) == [["seq", "batch", 4]]
    sizes = [run.sizes for run in result.report.runs]
    assert sizes == [{"seq": 7, "batch": 2}, {"seq": 8, "batch": 1}, {"seq": 6, "batch": 3}]
    assert result.report.ok
    assert [run.inputs[0].shape for run in result.report.runs] == [(7, 2, 4), (8, 1, 4), (6, 3, 4)]
    assert "seq 8, batch 1" in "\n".join(result.report.lines())


def test_default_is_still_a_dynamic_batch_in_dim_0():
    inputs = model_inputs(SeqFirst(), torch.randn(7, 2, 4))
    assert inputs.items[0].dims == ((0, "batch"),)
    assert model_inputs(SeqFirst(), torch.randn(7, 2, 4), dynamic_batch=False).items[0].dims == ()


def test_size_plans_keep_batch_1_and_3():
    assert size_plans({"batch": 2}) == [{"batch": 2}, {"batch": 1}, {"batch": 3}]
    assert size_plans({"batch": 1}) == [{"batch": 1}, {"batch": 3}, {"batch": 2}]
    assert size_plans({"batch": 3}) == [{"batch": 3}, {"batch": 1}, {"batch": 2}]
    assert size_plans({"seq": 5, "batch": 3}) == [{"seq": 5, "batch": 3}, {"seq": 6, "batch": 1},
                                                  {"seq": 4, "batch": 2}]
    assert size_plans({}) == [{}]
    assert size_plans({"seq": 1}) == [{"seq": 1}, {"seq": 2}]


@pytest.mark.parametrize("dims, message", [
    ([{3: "seq"}], "dynamic dim 3 of 'x' is out of range for its 3-d example 7x2x4"),
    ([{0: "7up"}], "needs a name such as 'seq'"),
    ([{0: "seq"}, {0: "seq"}], "2 dynamic dim specs for 1 inputs"),
    ({"y": {0: "seq"}}, "dynamic dims name input 'y', but the inputs are x"),
    (["0=seq"], "must be a dict like"),
])
def test_bad_dynamic_dims_are_input_errors(dims, message):
    with pytest.raises(InputSpecError, match=message.replace("(", r"\(").replace("[", r"\[")):
        model_inputs(SeqFirst(), torch.randn(7, 2, 4), dims)


class Pair(nn.Module):
    def forward(self, a, b):
        return a + b


def test_one_symbol_is_one_size():
    with pytest.raises(InputSpecError, match="'seq' is 5 in 'a' but 4 in 'b'"):
        model_inputs(Pair(), (torch.randn(5, 2), torch.randn(4, 2)), [{0: "seq"}, {0: "seq"}])


def test_parse_dynamic_spec():
    assert parse_dynamic_spec("0=seq,1=batch") == (None, {0: "seq", 1: "batch"})
    assert parse_dynamic_spec("attention_mask:1=seq") == ("attention_mask", {1: "seq"})
    assert parse_dynamic_spec("none") == (None, {})
    with pytest.raises(InputSpecError, match="bad --dynamic '0:seq'"):
        parse_dynamic_spec("0:seq")


class Keyworded(nn.Module):
    """A transformers-style forward: optional inputs by keyword, a dict of outputs."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 5)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        hidden = self.fc(input_ids.float().unsqueeze(-1).expand(-1, -1, 8))
        if token_type_ids is not None:
            hidden = hidden + token_type_ids.float().unsqueeze(-1)
        return {"logits": hidden.sum(1), "attentions": None, "last_hidden_state": hidden}


def test_keyword_inputs_and_named_outputs():
    torch.manual_seed(0)
    ids = torch.randint(0, 20, (2, 6))
    types = torch.randint(0, 2, (2, 6))
    result = graphnn.export(Keyworded(), {"token_type_ids": types, "input_ids": ids},
                            dynamic_dims={"input_ids": {0: "batch", 1: "seq"}, "token_type_ids": {0: "batch", 1: "seq"}})
    assert result.report.ok, "\n".join(result.report.lines())
    assert [i.name for i in result.onnx_model.graph.input] == ["input_ids", "token_type_ids"]
    assert [o.name for o in result.onnx_model.graph.output] == ["logits", "last_hidden_state"]
    assert {"batch", "seq"} <= set(result.report.runs[1].sizes)
    run = result.report.runs[1]  # integer inputs keep the example's value range
    assert run.inputs[1].min() >= 0 and run.inputs[1].max() <= 1


def test_keyword_input_that_forward_lacks_is_an_input_error():
    with pytest.raises(InputSpecError, match="the model's forward has no parameter 'pixel_values'"):
        model_inputs(Keyworded(), {"pixel_values": torch.randn(1, 3)})


def test_tuple_outputs_keep_their_names():
    class Two(nn.Module):
        def forward(self, x):
            return x + 1, (x * 2, None)

    result = graphnn.export(Two(), torch.randn(2, 3))
    assert [o.name for o in result.onnx_model.graph.output] == ["output_0", "output_1"]


def test_lazy_linear_is_materialized_from_the_example():
    model = nn.Sequential(nn.LazyLinear(6), nn.ReLU(), nn.LazyLinear(2))
    result = graphnn.export(model, torch.randn(3, 5))
    assert result.report.ok
    assert model[0].weight.shape == (6, 5)


def test_probabilities_stay_probabilities():
    generator = torch.Generator().manual_seed(0)
    resized = like(torch.rand(4, 3), (50, 3), generator)
    assert resized.min() >= 0 and resized.max() < 1 and resized.std() > 0.1
    assert like(torch.randn(4, 3), (50, 3), generator).min() < 0


SEQ_MODEL = '''
import torch
import torch.nn as nn

class SeqFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x).mean(0)

model = SeqFirst()
example_inputs = (torch.randn(7, 2, 4),)
dynamic_dims = [{0: "seq", 1: "batch"}]
'''


def test_cli_reads_the_files_dynamic_dims_and_the_dynamic_option(tmp_path):
    path = tmp_path / "seq.py"
    path.write_text(SEQ_MODEL)
    out = tmp_path / "seq.onnx"
    proc = graphnn_cli("export", str(path), str(out))
    assert proc.returncode == 0, proc.stderr
    assert "seq 8, batch 1" in proc.stdout
    assert onnx_dims(onnx.load(str(out))) == [["seq", "batch", 4]]
    proc = graphnn_cli("export", str(path), str(out), "--input", "5x3x4", "--dynamic", "1=batch")
    assert proc.returncode == 0, proc.stderr
    assert onnx_dims(onnx.load(str(out))) == [[5, "batch", 4]]


def test_cli_bad_dynamic_is_exit_2(tmp_path):
    path = tmp_path / "seq.py"
    path.write_text(SEQ_MODEL)
    proc = graphnn_cli("graph", str(path), "--dynamic", "3=seq")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: dynamic dim 3 of 'x' is out of range for its 3-d example 7x2x4"]


def test_lazy_conv_and_batch_norm_are_materialized_from_the_example():
    torch.manual_seed(0)
    model = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    result = graphnn.export(model, torch.randn(2, 3, 6, 6))
    assert result.report.ok
    assert [type(m).__name__ for m in model] == ["Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear"]
    assert [n.op_type for n in result.onnx_model.graph.node].count("BatchNormalization") == 0  # folded


def test_a_dim_that_is_not_really_dynamic_is_named_in_the_error():
    class FixedBatch(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.full((4, 3), 2.0))

        def forward(self, x):  # torch itself needs a batch of 4
            return x * self.scale

    doubled = graphnn.export(Wrap(lambda x: x * 2), torch.randn(4, 3)).onnx_model  # batch is dynamic
    with pytest.raises(ShapeError, match="the model fails in torch when its dynamic dims are batch=3 "):
        graphnn.check_parity(FixedBatch(), torch.randn(4, 3), doubled)


def test_rising_integers_stay_rising_and_start_where_the_example_does():
    generator = torch.Generator().manual_seed(0)
    offsets = like(torch.tensor([0, 3, 3, 9]), (6,), generator)
    assert offsets[0] == 0 and bool((offsets[1:] >= offsets[:-1]).all()) and offsets.max() <= 9
    ids = like(torch.tensor([[5, 1, 7]]), (2, 4), generator)  # not rising: plain random in range
    assert ids.min() >= 1 and ids.max() <= 7


# ------------------------------------------------------------ dims inferred from torch (no flags)
class Loss(nn.Module):
    """A classifier and its loss on a class-index target: the target's dim 0 is the batch."""

    def __init__(self, loss):
        super().__init__()
        self.fc = nn.Linear(8, 5)
        self.loss = loss

    def forward(self, x, target):
        logits = self.fc(x)
        return self.loss(torch.log_softmax(logits, 1) if isinstance(self.loss, nn.NLLLoss) else logits, target)


class GruWithState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 6, num_layers=2, batch_first=True)

    def forward(self, x, h0):
        return self.gru(x, h0)


class SeqFirstLstm(nn.Module):
    """Token ids laid out (seq, batch), as nn.LSTM's default layout wants them."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 6)
        self.fc = nn.Linear(6, 3)

    def forward(self, ids):
        y, _ = self.lstm(self.emb(ids))
        return self.fc(y[-1])


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.NLLLoss()], ids=["cross_entropy", "nll"])
def test_a_class_index_target_shares_the_batch(loss):
    torch.manual_seed(0)
    notes = []
    result = graphnn.export(Loss(loss), (torch.randn(4, 8), torch.randint(0, 5, (4,))), log=notes.append)
    assert result.ok
    assert onnx_dims(result.onnx_model) == [["batch", 8], ["batch"]]
    assert [run.sizes for run in result.report.runs] == [{"batch": 4}, {"batch": 1}, {"batch": 3}]
    assert "dynamic dims: batch = x dim 0, target dim 0 (torch runs at batch 5 too)" in notes


def test_a_gru_state_has_its_batch_in_dim_1():
    torch.manual_seed(0)
    notes = []
    result = graphnn.export(GruWithState(), (torch.randn(3, 5, 4), torch.randn(2, 3, 6)), log=notes.append)
    assert result.ok
    assert onnx_dims(result.onnx_model) == [["batch", 5, 4], [2, "batch", 6]]
    assert "dynamic dims: batch = x dim 0, h0 dim 1 (torch runs at batch 4 too)" in notes


def test_a_sequence_first_lstm_keeps_its_sequence_and_varies_its_batch():
    torch.manual_seed(0)
    notes = []
    result = graphnn.export(SeqFirstLstm(), torch.randint(0, 20, (7, 2)), log=notes.append)
    assert result.ok
    assert onnx_dims(result.onnx_model) == [[7, "batch"]]
    assert ("dynamic dims: batch = ids dim 1 (the batch of sequence-first nn.LSTM lstm; torch runs at batch 3 "
            "too)") in notes


class Project(nn.Module):
    def forward(self, x, w):  # w's dim 0 is 4 like the batch, but it is x's features
        return x @ w


def test_a_dim_torch_cannot_vary_is_kept_static_and_said_why():
    notes = []
    result = graphnn.export(Project(), (torch.randn(4, 4), torch.randn(4, 6)), log=notes.append)
    assert result.ok
    assert onnx_dims(result.onnx_model) == [["batch", 4], [4, 6]]
    assert notes[0].startswith("dynamic dims: batch = x dim 0 (torch runs at batch 5 too); kept static: w dim 0 "
                               "(torch fails at batch 5: "), notes[0]


def test_named_dims_and_static_override_the_inference():
    example = (torch.randn(4, 8), torch.randint(0, 5, (4,)))
    named = graphnn.export(Loss(nn.CrossEntropyLoss()), example, dynamic_dims=[{0: "n"}, {0: "n"}])
    assert onnx_dims(named.onnx_model) == [["n", 8], ["n"]]
    assert onnx_dims(graphnn.export(Loss(nn.CrossEntropyLoss()), example, dynamic_batch=False).onnx_model) == [
        [4, 8], [4]]


def test_the_cli_prints_the_note(tmp_path):
    path = tmp_path / "gru.py"
    path.write_text("import torch\nfrom tests.test_dynamic_inputs import GruWithState\nmodel = GruWithState()\n"
                    "example_inputs = (torch.randn(3, 5, 4), torch.randn(2, 3, 6))\n")
    result = invoke(["graph", path])
    assert result.exit_code == 0, result.output
    assert "dynamic dims: batch = x dim 0, h0 dim 1 (torch runs at batch 4 too)" in result.stderr


class _HardCodedBatch(nn.Module):
    def forward(self, x):
        return x.reshape(2, 12)


class _BlockModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = _HardCodedBatch()
        self.fc = nn.Linear(12, 4)

    def forward(self, x):
        return self.fc(self.block(x))


@pytest.mark.parametrize("frontend, message", [
    ("export", r"torch.export cannot keep dim 0 \('batch'\) of input 'x' dynamic: test_dynamic_inputs.py:\d+ "
               r"\(`return x.reshape\(2, 12\)`\) in layer 'block' fixes it to 2; read the size from the tensor"),
    ("fx", r"reshape \(test_dynamic_inputs.py:\d+\) reshapes \(batch, 3, 4\) to \(2, 12\), which fixes a dynamic dim"),
    ("auto", r"reshape \(test_dynamic_inputs.py:\d+\) reshapes \(batch, 3, 4\) to \(2, 12\), which fixes a dynamic dim"),
])
def test_a_dim_asked_dynamic_that_the_model_fixes_names_the_op_and_line(frontend, message):
    with pytest.raises((ShapeError, TraceError), match=message):
        graphnn.trace(_BlockModel(), (torch.randn(2, 3, 4),), dynamic_dims=[{0: "batch"}], frontend=frontend)


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4)

    def forward(self, x):
        return self.rnn(x)[0]


def test_a_dim_fixed_inside_a_torch_layer_keeps_the_general_message():
    """torch.export fixes nn.RNN's sequence length itself: the message (recorded for the fixtures)
    says a layer fixed it and points to the fx frontend."""
    with pytest.raises(TraceError, match=r"dim 0 \('seq'\) of input 'x' dynamic: the model \(or a layer it calls\) "
                                         r"fixes it to 5.*--frontend fx"):
        graphnn.trace(_Recurrent(), (torch.randn(5, 2, 3),), dynamic_dims=[{0: "seq", 1: "batch"}], frontend="export")


def test_cli_names_the_line_that_fixed_a_dynamic_dim_in_one_line(tmp_path):
    source = tmp_path / "hard_coded.py"
    source.write_text("import torch, torch.nn as nn\n"
                      "class M(nn.Module):\n"
                      "    def forward(self, x):\n"
                      "        return x.view(2, 12)\n"
                      "model = M()\nexample_inputs = (torch.randn(2, 3, 4),)\n")
    result = invoke(["export", str(source), str(tmp_path / "m.onnx"), "--dynamic", "0=batch", "--frontend", "export"])
    assert result.exit_code == 2, result.output
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("error: torch.export cannot keep dim 0 ('batch')") and "hard_coded.py:4 (`return x.view(2, 12)`)" in error
    assert "Traceback" not in result.output and not (tmp_path / "m.onnx").exists()
