"""Parity of masking: masked_fill (Where on the input's dtype), tril / triu (ONNX Trilu
from opset 14, a Range comparison at opset 13) and the causal and padding masks
attention code builds from them, with batch and sequence length varied."""
import pytest
import torch

import graphnn
from graphnn.errors import UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

SEQ = {"x": {0: "batch", 1: "seq"}}


class _Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _x():
    torch.manual_seed(0)
    return {"x": torch.randn(2, 5)}


MASKED_FILL = {
    "scalar": lambda x: x.masked_fill(x > 0, 0.0),
    "torch.masked_fill": lambda x: torch.masked_fill(x, x < 0, -1.5),
    "broadcast_mask": lambda x: x.masked_fill(x[:, :1] > 0, 2.0),
    "finfo_min": lambda x: x.masked_fill(x > 0.5, torch.finfo(torch.float32).min),
    "tensor_value": lambda x: x.masked_fill(x > 0, x.max()),
    "int_input": lambda x: (x * 10).long().masked_fill(x > 0, 7).float(),
    "in_place": lambda x: x.clone().masked_fill_(x > 0, 3.0),
}


@pytest.mark.parametrize("name", MASKED_FILL)
def test_masked_fill(name):
    models = export_checked(Wrap(MASKED_FILL[name]), torch.randn(2, 5))
    assert onnx_ops(models[18]).count("Where") == 1


@pytest.mark.parametrize("fn, ops", [
    (lambda x: (x > 0).masked_fill(x < -1, True).float(), {"Or"}),
    (lambda x: (x > 0).masked_fill(x > 1, False).float(), {"And", "Not"}),
    (lambda x: (x > 0).masked_fill(x > 1, x.sum() > 0).float(), {"And", "Or"}),
])
def test_masked_fill_of_bool_tensors_is_logic(fn, ops):
    models = export_checked(Wrap(fn), torch.randn(3, 5))
    assert ops <= set(onnx_ops(models[18])) and "Where" not in onnx_ops(models[18])


def test_masked_fill_with_an_int_mask_is_refused_by_name():
    with pytest.raises(UnsupportedError, match="masked_fill with a int64 mask"):
        graphnn.trace(Wrap(lambda x: x.masked_fill((x > 0).long(), 0.0)), torch.randn(2, 5))


TRIANGLES = {
    "tril": lambda x: torch.tril(x),
    "triu": lambda x: torch.triu(x),
    "tril_k1": lambda x: x.tril(1),
    "triu_k-1": lambda x: x.triu(-1),
    "triu_k2": lambda x: torch.triu(x, diagonal=2),
    "batched": lambda x: x.unsqueeze(1).expand(-1, 3, -1).tril(),
    "bool": lambda x: (x > 0).triu().float(),
    "in_place": lambda x: x.clone().tril_(),
}


@pytest.mark.parametrize("name", TRIANGLES)
def test_triangles(name):
    models = export_checked(Wrap(TRIANGLES[name]), torch.randn(4, 5))
    assert "Trilu" in onnx_ops(models[18])
    assert "Trilu" not in onnx_ops(models[13]) and {"Where", "And"} & set(onnx_ops(models[13]))


def test_causal_mask_from_traced_sizes():
    """The classic causal mask: ones(seq, seq).tril() as a bool mask, scores filled with -inf."""
    def causal(x):
        seq = x.size(1)
        scores = x.unsqueeze(1) * x.unsqueeze(2)  # (batch, seq, seq)
        allowed = torch.ones(seq, seq, dtype=torch.bool).tril()
        return scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    models = export_checked(_Fn(causal), _x(), dynamic_dims=SEQ, frontend="export")
    assert "Trilu" in onnx_ops(models[18])


def test_padding_mask_from_an_input():
    """A 0/1 attention mask (parity keeps it 0/1 at other sizes) turned into -inf fills."""
    class Padded(torch.nn.Module):
        def forward(self, x, attention_mask):
            scores = x.unsqueeze(1) * x.unsqueeze(2)
            keep = attention_mask[:, None, :].bool()
            return scores.masked_fill(~keep, torch.finfo(scores.dtype).min).softmax(-1)

    torch.manual_seed(0)
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[0, 3:] = 0
    dims = {"x": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    export_checked(Padded(), {"x": torch.randn(2, 5), "attention_mask": mask}, dynamic_dims=dims, frontend="export")


def test_triangle_of_a_vector_is_a_shape_error():
    with pytest.raises(graphnn.errors.ShapeError, match="expects a matrix or a batch of them, gets a 1-d tensor"):
        graphnn.trace(Wrap(lambda x: x[0].tril()), torch.randn(2, 5))
