"""An fx trace whose outputs are not torch's (a Python test on a traced value took another
branch under fx) is not used: ``auto`` falls back to torch.export, ``--frontend fx``
refuses naming the first output that differs, and localization never blames a pass for
an output list torch does not return."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import TraceError
from graphnn.frontend import fx_tracer
from graphnn.frontend.reproduces import first_difference
from graphnn.frontend.rules import Ref
from graphnn.ir import Graph


class BranchOnType(nn.Module):
    """``isinstance(s, tuple)`` is True in torch, False on fx's proxy: fx returns (h, c)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)

    def forward(self, x):
        out = self.lstm(x)
        y, s = out[0], out[1]
        return y, (s[0] if isinstance(s, tuple) else s)


def example():
    torch.manual_seed(0)
    return BranchOnType(), torch.randn(2, 5, 4)


def test_auto_falls_back_to_torch_export_with_a_note():
    model, x = example()
    notes = []
    result = graphnn.export(model, x, log=notes.append)
    assert result.ok and result.graph.frontend == "export"
    assert [o.name for o in result.onnx_model.graph.output] == [
        "output_0", "output_1"]
    assert any("torch.fx traced another program than torch runs: output[1] is a tuple of 2 in the trace, "
               "a 1x2x8:float32 tensor in torch" in note and "using the torch.export frontend" in note
               for note in notes), notes


def test_frontend_fx_refuses_naming_the_output():
    model, x = example()
    with pytest.raises(TraceError, match=r"output\[1\] is a tuple of 2 in the trace, a 1x2x8:float32 tensor "
                                         r"in torch \(a Python test on a traced value, such as isinstance"):
        graphnn.trace(model, x, frontend="fx")


def test_localization_does_not_blame_a_pass_for_another_output_list(monkeypatch):
    monkeypatch.setattr(fx_tracer, "first_difference", lambda *args: None)  # as before the check
    model, x = example()
    report = graphnn.check_parity(model, x, frontend="fx")
    assert not report.ok
    assert "the file has 3 output(s), torch returns 2" in report.diagnosis
    assert "optimizing pass" not in report.diagnosis


def graph_with(shape, dtype="float32", symbols=None):
    graph = Graph("g")
    graph.add_input("x", shape, dtype)
    graph.symbols.update(symbols or {})
    return graph


@pytest.mark.parametrize("traced, eager, expected", [
    (Ref("x"), torch.zeros(2, 3), None),
    ((Ref("x"),), (torch.zeros(2, 3),), None),
    (Ref("x"), torch.zeros(2, 4), "output is a 2x3:float32 tensor in the trace, a 2x4:float32 tensor in torch"),
    (Ref("x"), torch.zeros(2, 3, dtype=torch.int64),
     "output is a 2x3:float32 tensor in the trace, a 2x3:int64 tensor in torch"),
    ((Ref("x"), Ref("x")), (torch.zeros(2, 3),), "output is a tuple of 2 in the trace, a tuple of 1 in torch"),
    ({"a": Ref("x")}, {"b": torch.zeros(2, 3)}, "output is a dict with keys a in the trace, a dict with keys b"),
    ((Ref("x"), None), (torch.zeros(2, 3), torch.zeros(2, 3)),
     "output[1] is None in the trace, a 2x3:float32 tensor in torch"),
])
def test_first_difference(traced, eager, expected):
    found = first_difference(graph_with((2, 3)), traced, eager)
    assert found == expected if expected is None or found is None else found.startswith(expected), found


def test_symbols_are_compared_at_the_example_and_derived_dims_agree():
    graph = graph_with(("batch", "2*seq"), symbols={"batch": 2, "seq": 3})
    assert first_difference(graph, Ref("x"), torch.zeros(2, 6)) is None
    assert first_difference(graph, Ref("x"), torch.zeros(3, 6)).startswith("output is a 2x2*seq:float32 tensor")


def test_nesting_that_flattens_to_the_same_outputs_agrees():
    """fx returns (y, (h, c)) where torch returns (y, h, c): the same three file outputs."""
    graph = graph_with((2, 3))
    tensor = torch.zeros(2, 3)
    assert first_difference(graph, (Ref("x"), (Ref("x"), Ref("x"))), (tensor, tensor, tensor)) is None
