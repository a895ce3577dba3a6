"""Parity of lookup tables: nn.Embedding / F.embedding (Gather on the weight) and
nn.EmbeddingBag / F.embedding_bag in every mode, with 2-d inputs and with 1-d inputs
cut by offsets (include_last_offset, per_sample_weights, padding_idx, empty bags),
lowered without If / Loop; index inputs stay int64 in the ONNX file."""
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

CONTROL_FLOW = {"If", "Loop", "Scan"}


def input_types(model: onnx.ModelProto) -> list[int]:
    return [i.type.tensor_type.elem_type for i in model.graph.input]


# ------------------------------------------------------------------ Embedding
@pytest.mark.parametrize("shape", [(2, 5), (2, 3, 4)])
def test_embedding_is_one_gather(shape):
    torch.manual_seed(0)
    models = export_checked(nn.Embedding(20, 4), torch.randint(0, 20, shape))
    for model in models.values():
        assert onnx_ops(model) == ["Gather"]
        assert input_types(model) == [onnx.TensorProto.INT64]


def test_embedding_seed_example_1d_indices():
    """Seed 001: nn.Embedding(1000, 64) on torch.tensor([1, 5, 9]); the index count varies."""
    torch.manual_seed(0)
    export_checked(nn.Embedding(1000, 64), torch.tensor([1, 5, 9]), dynamic_dims=[{0: "batch"}])


def test_embedding_with_padding_idx_looks_up_the_padding_row():
    torch.manual_seed(0)
    layer = nn.Embedding(10, 3, padding_idx=0)
    models = export_checked(layer, torch.tensor([[0, 2, 0], [5, 0, 9]]))
    assert onnx_ops(models[18]) == ["Gather"]


def test_embedding_int32_indices_stay_int32():
    torch.manual_seed(0)
    models = export_checked(nn.Embedding(10, 3), torch.tensor([[1, 2], [9, 0]], dtype=torch.int32))
    assert input_types(models[13]) == [onnx.TensorProto.INT32]


class _Functional(nn.Module):
    def __init__(self, computed=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(12, 5))
        self.computed = computed

    def forward(self, x):
        return F.embedding(x, self.weight * 2 if self.computed else self.weight)


def test_functional_embedding_on_a_parameter_is_the_embedding_op():
    torch.manual_seed(0)
    model = _Functional()
    assert "embedding" in graphnn.trace(model, torch.tensor([[1, 11]])).ops()
    models = export_checked(model, torch.tensor([[1, 11], [3, 0]]))
    assert onnx_ops(models[18]) == ["Gather"]


def test_functional_embedding_on_a_computed_weight_gathers_from_it():
    torch.manual_seed(0)
    models = export_checked(_Functional(computed=True), torch.tensor([[1, 11], [3, 0]]))
    assert onnx_ops(models[18]) == ["Mul", "Gather"]


@pytest.mark.parametrize("make", [
    lambda: nn.Embedding(10, 3, max_norm=1.0),
    lambda: nn.EmbeddingBag(10, 3, max_norm=1.0),
    lambda: Wrap(lambda x, w=torch.randn(10, 3): F.embedding(x, w, max_norm=1.0)),
], ids=["Embedding", "EmbeddingBag", "F.embedding"])
def test_max_norm_is_refused_with_a_reason(make):
    with pytest.raises(UnsupportedError, match=r"max_norm=1\.0 \(torch rewrites the looked-up weight rows in place"
                                               r".*construct the layer with max_norm=None"):
        graphnn.trace(make(), torch.tensor([[1, 2]]))


def test_float_indices_are_a_shape_error():
    layer = nn.Embedding(10, 3)
    with pytest.raises(ShapeError, match="expects int64 indices, gets float32"):
        graphnn.trace(Wrap(lambda x: layer(x.float()), layer), torch.tensor([[1, 2]]))


# --------------------------------------------------------------- EmbeddingBag
ROWS_WITH_PADDING = torch.tensor([[0, 3, 0], [0, 0, 0], [4, 5, 19], [7, 7, 0]])  # row 1: only padding


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_bag_of_2d_input_reduces_the_bag_axis(mode, padding_idx):
    torch.manual_seed(0)
    layer = nn.EmbeddingBag(20, 4, mode=mode, padding_idx=padding_idx)
    models = export_checked(layer, ROWS_WITH_PADDING)
    reduction = {"sum": "ReduceSum", "mean": "ReduceMean" if padding_idx is None else "ReduceSum",
                 "max": "ReduceMax"}[mode]
    for model in models.values():
        ops = onnx_ops(model)
        assert ops[0] == "Gather" and reduction in ops and not CONTROL_FLOW & set(ops)
        if padding_idx is None:
            assert ops == ["Gather", reduction]
        assert input_types(model) == [onnx.TensorProto.INT64]


def test_bag_of_2d_input_ignores_include_last_offset_as_torch_does():
    torch.manual_seed(0)
    export_checked(nn.EmbeddingBag(20, 4, mode="sum", include_last_offset=True), ROWS_WITH_PADDING)


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_bag_of_2d_input_with_per_sample_weights(padding_idx):
    torch.manual_seed(0)
    layer = nn.EmbeddingBag(20, 4, mode="sum", padding_idx=padding_idx)
    weighted = Wrap(lambda x, w: layer(x, per_sample_weights=w), layer)
    models = export_checked(weighted, (ROWS_WITH_PADDING, torch.randn(4, 3)))
    assert onnx_ops(models[18])[-2:] == ["Mul", "ReduceSum"]


FLAT = torch.tensor([0, 3, 0, 4, 5, 19, 2, 0, 7])
OFFSETS = torch.tensor([0, 2, 2, 6])  # bag 1 is empty; the last bag runs to the end
# include_last_offset: the last offset is the number of indices (CSR). torch documents
# nothing else; with a smaller one its CPU kernels disagree between modes.
LAST_OFFSETS = torch.tensor([0, 2, 2, 6, 9])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_bag_of_1d_input_with_offsets(mode, padding_idx, include_last_offset):
    torch.manual_seed(0)
    layer = nn.EmbeddingBag(20, 4, mode=mode, padding_idx=padding_idx, include_last_offset=include_last_offset)
    offsets = LAST_OFFSETS if include_last_offset else OFFSETS
    assert layer(FLAT, offsets).shape == (4, 4)
    models = export_checked(layer, (FLAT, offsets))
    for model in models.values():
        ops = onnx_ops(model)
        assert "Range" in ops and not CONTROL_FLOW & set(ops)
        assert ("MatMul" in ops) == (mode != "max") and ("ReduceMax" in ops) == (mode == "max")
        assert input_types(model) == [onnx.TensorProto.INT64] * 2


@pytest.mark.parametrize("include_last_offset", [False, True])
def test_bag_of_1d_input_with_per_sample_weights(include_last_offset):
    torch.manual_seed(0)
    layer = nn.EmbeddingBag(20, 4, mode="sum", padding_idx=0, include_last_offset=include_last_offset)
    offsets = LAST_OFFSETS if include_last_offset else OFFSETS
    export_checked(layer, (FLAT, offsets, torch.randn(9)))


class _FixedBags(nn.Module):
    """Offsets held by the model; the number of indices varies in parity."""

    def __init__(self, mode):
        super().__init__()
        self.bag = nn.EmbeddingBag(20, 4, mode=mode)
        self.register_buffer("offsets", torch.tensor([0, 1, 3]))

    def forward(self, x):
        return self.bag(x, self.offsets)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bag_of_1d_input_of_dynamic_length(mode):
    torch.manual_seed(0)
    export_checked(_FixedBags(mode), FLAT, dynamic_dims=[{0: "n"}])


def test_bag_offsets_and_indices_of_int32():
    torch.manual_seed(0)
    export_checked(nn.EmbeddingBag(20, 4, mode="mean"), (FLAT.int(), OFFSETS.int()))


def test_seed_sparse_embedding_bag():
    """Seed 002 "Sparse Layers": sparse=True only changes the gradient."""
    torch.manual_seed(0)
    models = export_checked(nn.EmbeddingBag(1000, 10, sparse=True), torch.randint(0, 1000, (2, 6)))
    assert onnx_ops(models[18]) == ["Gather", "ReduceMean"]


class _FunctionalBag(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(10, 3))
        self.kwargs = kwargs

    def forward(self, x, offsets=None):
        return F.embedding_bag(x, self.weight, offsets, **self.kwargs)


@pytest.mark.parametrize("kwargs", [{"mode": "sum", "padding_idx": -1}, {"mode": "max"},
                                    {"mode": "mean", "padding_idx": 9, "include_last_offset": True}],
                         ids=["sum_negative_padding", "max", "mean_last_offset"])
def test_functional_embedding_bag(kwargs):
    torch.manual_seed(0)
    x = torch.tensor([9, 1, 2, 9, 3, 9])
    offsets = torch.tensor([0, 3, 5] if kwargs.get("include_last_offset") else [0, 3])
    export_checked(_FunctionalBag(**kwargs), (x, offsets))


def test_functional_embedding_bag_of_2d_input():
    torch.manual_seed(0)
    export_checked(_FunctionalBag(mode="sum", padding_idx=-1), torch.tensor([[9, 1, 2], [9, 9, 9]]))


def test_per_sample_weights_need_mode_sum():
    with pytest.raises(UnsupportedError, match=r"per_sample_weights with mode='mean' \(torch allows them with "
                                               r"mode='sum' only\)"):
        layer = nn.EmbeddingBag(10, 3, mode="mean")
        graphnn.trace(Wrap(lambda x, w: layer(x, per_sample_weights=w), layer),
                      (torch.tensor([[1, 2]]), torch.randn(1, 2)))


def test_offsets_with_a_2d_input_are_a_shape_error():
    with pytest.raises(ShapeError, match="gets offsets with a 2-d input"):
        graphnn.trace(nn.EmbeddingBag(10, 3), (torch.tensor([[1, 2]]), torch.tensor([0])))


def test_1d_input_without_offsets_is_a_shape_error():
    layer = nn.EmbeddingBag(10, 3)
    with pytest.raises(ShapeError, match="gets a 1-d input without offsets"):
        graphnn.trace(Wrap(lambda x: layer(x), layer), torch.tensor([1, 2]))
