"""Parity of indexing: ``x[...]`` with ints, slices (steps, negative bounds, traced
bounds), Ellipsis, None and one tensor index; select / narrow / index_select /
gather; and the forms that are refused."""
import pytest
import torch

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import CACHE_DIMS, Wrap, cache_shaped_inputs, export_checked, onnx_ops

X = (2, 3, 4, 5)

BASIC = {
    "int": lambda x: x[:, 0], "negative_int": lambda x: x[:, -1, :], "first": lambda x: x[-1, :, :],
    "ints": lambda x: x[:, 1, :, 2], "all_ints": lambda x: x[:, 2, 3, 4],
    "slice": lambda x: x[:, 1:3], "slice_step": lambda x: x[:, ::2, 1::3],
    "negative_slice": lambda x: x[..., -3:-1], "open_end": lambda x: x[:, :, 2:],
    "ellipsis": lambda x: x[..., :2], "ellipsis_middle": lambda x: x[:, ..., 0],
    "none": lambda x: x[:, None], "none_many": lambda x: x[None, :, None, ..., None],
    "combo": lambda x: x[:, -1, 1:, None, ::2], "past_the_end": lambda x: x[:, :, 1:100],
    "full": lambda x: x[:] + 1, "empty_tuple_ellipsis": lambda x: x[...] * 2,
    "method_select": lambda x: x.select(1, -2), "torch.select": lambda x: torch.select(x, 3, 1),
    "narrow": lambda x: x.narrow(2, 1, 2), "narrow_negative": lambda x: torch.narrow(x, -1, -2, 2),
    "int_list": lambda x: x[:, [0, 2, 2]], "traced_bound": lambda x: x[:, :, : x.size(3) - 2],
    "traced_int": lambda x: x[:, x.size(1) - 1],
}


@pytest.mark.parametrize("name", BASIC)
def test_basic_indexing(name):
    torch.manual_seed(0)
    export_checked(Wrap(BASIC[name]), torch.randn(*X))


@pytest.mark.parametrize("fn, ops", [
    (lambda x: x[:, 0], ["Gather"]),
    (lambda x: x[..., 1:3], ["Slice"]),
    (lambda x: x[:, 1:, ::2], ["Slice"]),
    (lambda x: x[:, 0, None], ["Gather", "Unsqueeze"]),
])
def test_indexing_op_types(fn, ops):
    models = export_checked(Wrap(fn), torch.randn(*X))
    assert onnx_ops(models[18]) == ops


def test_slicing_the_dynamic_batch():
    torch.manual_seed(0)
    export_checked(Wrap(lambda x: x[1:, 0] + x[:-1, 0]), torch.randn(4, 3))


def test_dynamic_slice_bound():
    """The end is x.size(0) - 1: unknown until run time, so Slice reads it."""
    torch.manual_seed(0)
    models = export_checked(Wrap(lambda x: x[: x.size(0) - 1]), torch.randn(4, 3))
    assert "Slice" in onnx_ops(models[18])


TENSOR_INDEX = {  # (fn, index shape, indices from -n to n-1; index_select wants them >= 0)
    "first_dim": (lambda x, i: x[i], (5,), 1),  # the dynamic batch: valid at batch 1 too
    "second_dim": (lambda x, i: x[:, i], (5,), 3),
    "ellipsis": (lambda x, i: x[..., i], (2, 3), 5),
    "with_int_before": (lambda x, i: x[0, :, i], (5,), 4),
    "with_int_after": (lambda x, i: x[:, i, 0], (5,), 3),
    "with_none": (lambda x, i: x[None, :, i], (5,), 3),
}


@pytest.mark.parametrize("name", TENSOR_INDEX)
def test_tensor_index_is_a_gather(name):
    torch.manual_seed(0)
    fn, index_shape, size = TENSOR_INDEX[name]
    export_checked(Wrap(fn), (torch.randn(*X), torch.randint(-size, size, index_shape)))


@pytest.mark.parametrize("fn, size", [(lambda x, i: torch.index_select(x, 2, i), 4),
                                      (lambda x, i: x.index_select(-1, i), 5)])
def test_index_select(fn, size):
    torch.manual_seed(0)
    models = export_checked(Wrap(fn), (torch.randn(*X), torch.randint(0, size, (6,))))
    assert onnx_ops(models[18]) == ["Gather"]


class TableLookup(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(10, 4))

    def forward(self, ids):
        return self.table[ids]


def test_batched_ids_index_a_table():
    """Token ids with the dynamic batch index a parameter: Gather on dim 0 of the table."""
    torch.manual_seed(0)
    models = export_checked(TableLookup(), torch.randint(0, 10, (2, 7)))
    assert onnx_ops(models[18]) == ["Gather"]


@pytest.mark.parametrize("spelling", ["torch", "method"])
def test_gather(spelling):
    torch.manual_seed(0)
    fn = (lambda x, i: torch.gather(x, 1, i)) if spelling == "torch" else (lambda x, i: x.gather(-1, i))
    index = torch.randint(0, 3, (2, 3, 4, 5)) if spelling == "torch" else torch.randint(0, 5, (2, 3, 4, 2))
    models = export_checked(Wrap(fn), (torch.randn(*X), index))
    assert onnx_ops(models[18]) == ["GatherElements"]


def test_out_of_range_index_is_a_shape_error():
    with pytest.raises(ShapeError, match="has index 3, out of range for dim 1 of size 3"):
        graphnn.trace(Wrap(lambda x: x[:, 3]), torch.randn(*X))


def test_too_many_indices_is_a_shape_error():
    with pytest.raises(ShapeError, match="has 3 indices for a 2-d tensor"):
        graphnn.trace(Wrap(lambda x: x[0, 1, 2]), torch.randn(2, 3))


@pytest.mark.parametrize("fn", [
    lambda x, i: x[i, None, i],  # several tensors with a new axis beside them
    lambda x, i: x[x > 0],
    lambda x, i: x[:, [True, False, True]],
])
def test_refused_index_forms(fn):
    with pytest.raises(UnsupportedError):
        graphnn.trace(Wrap(fn), (torch.randn(2, 3), torch.tensor([0, 1])))


def test_adjacent_tensor_indices_go_to_the_advanced_indexing_family():
    """transformers' padding masks: mask[batch_idx, kv_idx] with broadcasting index shapes."""
    model = Wrap(lambda x: x[:, torch.arange(3).view(3, 1), torch.arange(4).view(1, 4)] * 2)
    graph = graphnn.trace(model, torch.randn(*X))
    assert graph.count("index_tensors") == 1
    export_checked(model, torch.randn(*X))


# ------------------------------------------------------------------ slice_scatter (slice assignment)
SCATTER = {
    "middle": lambda x: torch.slice_scatter(x, x[:, :, :2] * -1, dim=2, start=1, end=3),
    "head": lambda x: torch.slice_scatter(x, x[:, :1] * 2, dim=1, end=1),
    "tail": lambda x: torch.slice_scatter(x, x[..., -2:] + 1, dim=-1, start=-2),
    "whole_dim": lambda x: torch.slice_scatter(x, x * 3, dim=1),
    "traced_end": lambda x: torch.slice_scatter(x, x[:, :, : x.size(2) - 1] - 1, dim=2, end=x.size(2) - 1),
    "select": lambda x: torch.select_scatter(x, x[:, 1] * 2, 1, 1),
    "select_last": lambda x: torch.select_scatter(x, x[..., -1] + 5, 3, -1),
    "int_into_float": lambda x: torch.slice_scatter(x, (x[..., :2] * 4).long(), dim=3, start=3),
}


@pytest.mark.parametrize("name", SCATTER)
def test_slice_scatter(name):
    torch.manual_seed(0)
    export_checked(Wrap(SCATTER[name]), torch.randn(*X))


@pytest.mark.parametrize("fn, ops", [
    (SCATTER["middle"], ["Slice", "Mul", "Slice", "Slice", "Concat"]),  # head, value, tail
    (SCATTER["head"], ["Slice", "Mul", "Slice", "Concat"]),
    (SCATTER["whole_dim"], ["Mul"]),  # writing a whole dim is the value itself
])
def test_slice_scatter_op_types(fn, ops):
    models = export_checked(Wrap(fn), torch.randn(*X))
    assert onnx_ops(models[18]) == ops


def test_slice_scatter_of_a_wrong_shape_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"writes a \(2, 3, 3, 5\) tensor into a \(2, 3, 2, 5\) slice"):
        graphnn.trace(Wrap(lambda x: torch.slice_scatter(x, torch.zeros(2, 3, 3, 5), dim=2, start=1, end=3)),
                      torch.randn(*X), dynamic_batch=False)


def test_slice_scatter_with_a_step_is_refused():
    with pytest.raises(UnsupportedError, match="step 2"):
        graphnn.trace(Wrap(lambda x: torch.slice_scatter(x, x[:, ::2], dim=1, step=2)), torch.randn(*X))


def test_slicing_a_table_by_a_traced_size_keeps_the_symbol():
    """self.pos[:x.size(1)] on a longer table has x's (dynamic) length, so it adds to x."""
    table = torch.randn(32, 4)
    model = Wrap(lambda x: x + table[: x.size(0)])
    graph = graphnn.trace(model, torch.randn(6, 4))
    assert graph.values[graph.outputs[0]].shape == ("batch", 4)
    export_checked(model, torch.randn(6, 4))


def test_slicing_the_past_off_a_cache_mask_leaves_the_new_tokens():
    """OPT's positions: ``cumsum(mask)[:, past:]`` has the new tokens' length, so it adds to
    them (total_sequence_length - past_sequence_length is sequence_length)."""
    model = Wrap(lambda x, mask, past: x + mask.cumsum(1)[:, past.size(1):, None].to(x.dtype))
    export_checked(model, cache_shaped_inputs(), dynamic_dims=CACHE_DIMS)
    graph = graphnn.trace(model, cache_shaped_inputs(), dynamic_dims=CACHE_DIMS)
    sliced = [n for n in graph.nodes() if n.op == "slice"][0]
    assert graph.values[sliced.outputs[0]].shape == ("batch", "sequence_length")


class GroupMask(torch.nn.Module):
    """DeepSeek-V3's router: the chosen expert groups marked in place with scatter_(1, idx, 1)."""

    def forward(self, scores):
        chosen = torch.topk(scores, k=2, dim=-1, sorted=False)[1]
        mask = torch.zeros_like(scores)
        mask.scatter_(1, chosen, 1)
        return mask


SCATTERS = {
    "src": lambda x: x.scatter(0, torch.tensor([[2, 0, 1, 2], [1, 2, 0, 0]]), -x[:2]),
    "larger_src": lambda x: torch.scatter(x, 1, torch.tensor([[3], [0], [1]]), x * 10),
    "value": lambda x: x.scatter(1, torch.tensor([[0, 2], [3, 1], [2, 0]]), 7.5),
}


@pytest.mark.parametrize("name", SCATTERS)
def test_scatter(name):
    torch.manual_seed(0)
    models = export_checked(Wrap(SCATTERS[name]), torch.randn(3, 4), dynamic_batch=False)
    assert "ScatterElements" in onnx_ops(models[18])


def test_scatter_in_place_with_a_dynamic_batch():
    torch.manual_seed(0)
    models = export_checked(GroupMask(), torch.randn(3, 5), frontend="export")
    assert "ScatterElements" in onnx_ops(models[18])


def test_scatter_with_reduce_is_refused():
    with pytest.raises(UnsupportedError, match="reduce='add'"):
        graphnn.trace(Wrap(lambda x: x.scatter(1, torch.tensor([[0], [1], [2]]), x[:, :1], reduce="add")),
                      torch.randn(3, 4))
