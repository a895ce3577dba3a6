"""Parity of tensors made from sizes: torch.arange, zeros / ones / full / empty and eye,
from Python ints (constants) and from traced sizes (ONNX Range / Expand / EyeLike on the
run-time size), under fx and torch.export, with the sequence length varied."""
import pytest
import torch

import graphnn
from graphnn.errors import UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

SEQ = {"x": {0: "batch", 1: "seq"}}


def _inputs():
    torch.manual_seed(0)
    return {"x": torch.randn(2, 5)}


class _Fn(torch.nn.Module):
    """One keyword input ``x`` (batch, seq), as transformer code sees its hidden states."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


ARANGE = {  # name: (fn, ONNX ops expected besides the arithmetic)
    "end": lambda x: x + torch.arange(x.size(1)),
    "start_end": lambda x: x + torch.arange(1, x.shape[1] + 1),
    "float_dtype": lambda x: x * torch.arange(x.size(1), dtype=torch.float32),
    "float_bounds": lambda x: x + torch.arange(0.5, x.size(1)),
    "int32": lambda x: x + torch.arange(x.size(1), dtype=torch.int32).float(),
    "float16": lambda x: x + torch.arange(x.size(1), dtype=torch.float16).float(),
    "positions": lambda x: x + torch.arange(x.size(1)).unsqueeze(0).expand(x.size(0), -1),
}


@pytest.mark.parametrize("frontend", ["fx", "export"])
@pytest.mark.parametrize("name", ARANGE)
def test_arange_of_a_traced_size_stays_symbolic(name, frontend):
    model = _Fn(ARANGE[name])
    graph = graphnn.trace(model, _inputs(), dynamic_dims=SEQ, frontend=frontend)
    assert [graph.values[n.outputs[0]].shape for n in graph.nodes() if n.op == "arange"] == [("seq",)]
    models = export_checked(model, _inputs(), dynamic_dims=SEQ, frontend=frontend)
    for opset in models:
        assert onnx_ops(models[opset]).count("Range") == 1


def test_strided_arange_over_a_dynamic_size():
    model = _Fn(lambda x: torch.arange(0, x.size(1), 2, dtype=torch.float32) + x.sum())
    models = export_checked(model, _inputs(), dynamic_dims=SEQ, frontend="export")
    assert "Range" in onnx_ops(models[18])


@pytest.mark.parametrize("fn", [
    lambda x: x + torch.arange(5),
    lambda x: x + torch.arange(1, 10, 2),
    lambda x: x * torch.arange(0, 1, 0.2),
    lambda x: x + torch.arange(5, 0, -1, dtype=torch.float64).float(),
])
def test_arange_of_ints_is_a_constant(fn):
    models = export_checked(Wrap(fn), torch.randn(2, 5))
    assert "Range" not in onnx_ops(models[18])


FILLED = {  # name: (fn, ONNX ops of the fill)
    "ones_traced": (lambda x: x + torch.ones(x.size(0), 1), "Expand"),
    "zeros_traced_tuple": (lambda x: x + torch.zeros((x.size(0), x.size(1))), "Expand"),
    "full_traced": (lambda x: x * torch.full((x.shape[0], x.shape[1]), 2.5), "Expand"),
    "full_int": (lambda x: x + torch.full((1, x.size(1)), 3), "Expand"),
    "full_bool": (lambda x: x.masked_fill(torch.full((x.size(0), 1), True), 0.0), "Expand"),
    "empty_then_filled": (lambda x: x + torch.empty(x.size(1)).fill_(1.5), "Expand"),
    "ones_static": (lambda x: x + torch.ones(1), None),
    "zeros_dtype": (lambda x: x + torch.zeros(2, 1, dtype=torch.int64)[:1], None),
}


@pytest.mark.parametrize("name", FILLED)
def test_filled_tensors(name):
    fn, op = FILLED[name]
    models = export_checked(_Fn(fn), _inputs(), dynamic_dims=SEQ, frontend="export")
    if op is not None:
        assert op in onnx_ops(models[18])
    else:
        assert "Expand" not in onnx_ops(models[18])


def test_filled_dtypes_follow_torch():
    graph = graphnn.trace(_Fn(lambda x: (torch.full((x.size(0),), 3), torch.full((x.size(0),), 1.0),
                                         torch.ones(x.size(0), dtype=torch.int32))),
                          _inputs(), dynamic_dims=SEQ, frontend="export")
    assert [graph.values[o].dtype for o in graph.outputs] == ["int64", "float32", "int32"]


def test_eye_of_a_traced_size_uses_eyelike():
    models = export_checked(_Fn(lambda x: x @ torch.eye(x.size(1))), _inputs(), dynamic_dims=SEQ, frontend="export")
    assert "EyeLike" in onnx_ops(models[18])


def test_eye_of_ints_is_a_constant():
    models = export_checked(Wrap(lambda x: x @ torch.eye(5, 3)), torch.randn(2, 5))
    assert onnx_ops(models[18]) == ["MatMul"]


def test_arange_of_a_tensor_is_refused_by_name():
    with pytest.raises(UnsupportedError, match=r"torch.arange with a bound that is a \(batch\) tensor \(bounds are numbers or sizes"):
        graphnn.trace(Wrap(lambda x: torch.arange(x.sum(1).long())), torch.randn(2, 5))
