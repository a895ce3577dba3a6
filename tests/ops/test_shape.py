"""Parity of ops that rearrange or replicate elements: reshape family, permutations,
squeeze / unsqueeze, cat / stack, split / chunk / unbind (multi-output), expand /
repeat, flip / roll, and tensors shaped like another; with a dynamic batch."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

X = (2, 3, 4)

RESHAPE = {
    "view_static": lambda x: x[0].view(12, 1),
    "view_minus_one": lambda x: x.view(-1, 4),
    "view_traced_batch": lambda x: x.view(x.size(0), -1),
    "view_tuple": lambda x: x.view((x.size(0), 3, 2, 2)),
    "view_size": lambda x: (x * 2).view(x.size()),
    "view_shape_slice": lambda x: x.view(x.shape[:2] + (2, 2)),
    "reshape": lambda x: x.reshape(-1, 3, 2, 2),
    "torch.reshape": lambda x: torch.reshape(x, (x.size(0), 12)),
    "view_as": lambda x: x.flip(2).view_as(x),
    "reshape_as": lambda x: x.permute(0, 2, 1).reshape_as(x),
    "flatten": lambda x: torch.flatten(x, 1),
    "x.flatten": lambda x: x.flatten(),
    "flatten_last_two": lambda x: x.flatten(-2),
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "torch.unflatten": lambda x: torch.unflatten(x, 1, (3, -1)),
    "unflatten_batch": lambda x: x.unflatten(0, (-1, 1)),
}


@pytest.mark.parametrize("name", RESHAPE)
def test_reshape_family(name):
    torch.manual_seed(0)
    export_checked(Wrap(RESHAPE[name]), torch.randn(*X))


@pytest.mark.parametrize("layer", [nn.Flatten(), nn.Flatten(0, 1), nn.Unflatten(2, (2, 2)), nn.Unflatten(-1, (1, 4))])
def test_reshape_layers(layer):
    torch.manual_seed(0)
    export_checked(nn.Sequential(layer), torch.randn(*X))


PERMUTE = {
    "permute": lambda x: x.permute(2, 0, 1), "permute_tuple": lambda x: x.permute((0, 2, 1)),
    "torch.permute": lambda x: torch.permute(x, (1, 0, 2)), "negative": lambda x: x.permute(-1, -3, -2),
    "transpose": lambda x: x.transpose(1, 2), "torch.transpose": lambda x: torch.transpose(x, 0, -1),
    "swapaxes": lambda x: x.swapaxes(0, 1), "t": lambda x: x[0].t(), "torch.t": lambda x: torch.t(x[:, 0]),
    "T_2d": lambda x: x[:, :, 0].T,
}


@pytest.mark.parametrize("name", PERMUTE)
def test_permutations(name):
    torch.manual_seed(0)
    models = export_checked(Wrap(PERMUTE[name]), torch.randn(*X))
    assert "Transpose" in onnx_ops(models[18])


SQUEEZE = {  # on a (batch, 1, 3, 1) input
    "squeeze_all": lambda x: x[0].squeeze(), "squeeze_dim": lambda x: x.squeeze(1),
    "squeeze_negative": lambda x: torch.squeeze(x, -1), "squeeze_dims": lambda x: x.squeeze((1, 3)),
    "squeeze_not_one": lambda x: x.squeeze(2), "unsqueeze": lambda x: x.unsqueeze(0),
    "unsqueeze_negative": lambda x: torch.unsqueeze(x, -1), "unsqueeze_middle": lambda x: x.unsqueeze(2),
}


@pytest.mark.parametrize("name", SQUEEZE)
def test_squeeze_unsqueeze(name):
    torch.manual_seed(0)
    export_checked(Wrap(SQUEEZE[name]), torch.randn(2, 1, 3, 1))


def test_squeeze_of_dynamic_batch_is_refused():
    with pytest.raises(UnsupportedError, match=r"squeeze of dim 0, whose size \(batch\) is only known at run time"):
        graphnn.trace(Wrap(lambda x: x.squeeze(0)), torch.randn(1, 3))


def test_squeeze_all_with_a_dynamic_dim_is_refused():
    with pytest.raises(UnsupportedError, match=r"squeeze\(\) of a tensor with a dynamic dim"):
        graphnn.trace(Wrap(lambda x: x.squeeze()), torch.randn(2, 3, 1))


def test_squeeze_of_static_batch():
    export_checked(Wrap(lambda x: x.squeeze(0)), torch.randn(1, 3), dynamic_batch=False)


JOIN = {
    "cat": lambda x, y: torch.cat([x, y], 1), "cat_negative": lambda x, y: torch.cat((x, y, x), dim=-1),
    "cat_batch": lambda x, y: torch.cat([x, y]), "concat": lambda x, y: torch.concat([x, y], 2),
    "concatenate": lambda x, y: torch.concatenate([x, y], axis=1),
    "cat_promotes": lambda x, y: torch.cat([x.long(), y], 1),
    "stack": lambda x, y: torch.stack([x, y]), "stack_last": lambda x, y: torch.stack((x, y), -1),
    "stack_middle": lambda x, y: torch.stack([x, y, x], dim=1),
}


@pytest.mark.parametrize("name", JOIN)
def test_join(name):
    torch.manual_seed(0)
    export_checked(Wrap(JOIN[name]), (torch.randn(*X), torch.randn(*X)))


def test_cat_along_dynamic_batch_gets_a_new_symbol():
    graph = graphnn.trace(Wrap(lambda x, y: torch.cat([x, y])), (torch.randn(*X), torch.randn(*X)))
    out = graph.values[graph.outputs[0]].shape
    assert isinstance(out[0], str) and out[0] != "batch" and out[1:] == (3, 4)


def test_bad_cat_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"must match: input 1 is \(batch, 3, 4\), input 2 is \(batch, 5, 4\)"):
        graphnn.trace(Wrap(lambda x, y: torch.cat([x, y], 2)), (torch.randn(*X), torch.randn(2, 5, 4)))


SPLIT = {
    "chunk": lambda x: x.chunk(2, dim=2), "torch.chunk": lambda x: torch.chunk(x, 2, -1),
    "chunk_uneven": lambda x: x.chunk(3, 2), "chunk_fewer": lambda x: x.chunk(4, 1),
    "split": lambda x: x.split(2, dim=2), "split_uneven": lambda x: torch.split(x, 2, 1),
    "split_sections": lambda x: x.split([1, 2], dim=1), "split_one": lambda x: x.split(4, -1),
    "unbind": lambda x: x.unbind(1), "torch.unbind": lambda x: torch.unbind(x, -1),
    "unpacked": lambda x: _add_halves(x),
}


def _add_halves(x):
    first, second = x.chunk(2, 2)
    return first + second


@pytest.mark.parametrize("name", SPLIT)
def test_split_family(name):
    torch.manual_seed(0)
    export_checked(Wrap(SPLIT[name]), torch.randn(*X))


def test_chunk_is_one_split():
    models = export_checked(Wrap(lambda x: x.chunk(2, 2)), torch.randn(*X))
    assert onnx_ops(models[18]) == ["Split"]


def test_split_of_dynamic_batch_is_refused():
    with pytest.raises(UnsupportedError, match=r"chunk along dim 0, whose size \(batch\) is only known"):
        graphnn.trace(Wrap(lambda x: x.chunk(2)), torch.randn(*X))


def test_split_sections_on_dynamic_batch_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"splits dim 0 of \(batch, 3, 4\), whose size is dynamic"):
        graphnn.trace(Wrap(lambda x: x.split([1, 1])), torch.randn(*X), dynamic_dims=[{0: "batch"}])


REPLICATE = {
    "expand": lambda x: x[:, :, :1].expand(-1, -1, 5), "expand_new_dims": lambda x: x[:, :1].expand(2, -1, 6, 4),
    "expand_traced": lambda x: x[:, :1].expand(x.size(0), 3, 4),
    "expand_size": lambda x: x[:, :1, :1].expand(x.size()),
    "expand_as": lambda x: x[:, :1].expand_as(x), "expand_as_broadcast": lambda x: x[0, :1].expand_as(x),
    "repeat": lambda x: x.repeat(1, 2, 1), "repeat_new_dims": lambda x: x.repeat(2, 1, 2, 1),
    "repeat_traced_count": lambda x: x[:, :, :1].repeat(1, 1, x.size(0)),  # a size-1 dim: broadcasting
    "repeat_traced_new_dim": lambda x: x[0, 0].unsqueeze(0).repeat(x.size(0), 1),  # Whisper's position_ids
    "tile": lambda x: x.tile((2,)), "torch.tile": lambda x: torch.tile(x, (2, 1, 1)),
    "flip": lambda x: x.flip(1), "flip_many": lambda x: torch.flip(x, (0, -1)),
    "roll": lambda x: x.roll(1, 2), "roll_many": lambda x: torch.roll(x, (-1, 5), (1, 2)),
}


@pytest.mark.parametrize("name", REPLICATE)
def test_replicate_and_reorder(name):
    torch.manual_seed(0)
    export_checked(Wrap(REPLICATE[name]), torch.randn(*X))


TRACED_REPEATS = {
    "batch_of_batches": lambda x: x.repeat(x.size(0), 1, 1),
    "alibi": lambda x: (x[0, :, :1] * x[0, :1, :]).repeat(x.size(0), 1),  # BLOOM: (heads * batch, seq)
    "counts_and_ints": lambda x: x.repeat(1, x.size(0), 2),
    # BLOOM's baddbmm: the repeated alibi (3 * batch, 1, 4) meets scores reshaped to (batch * 3, 4, 4)
    "product_dim_meets_a_reshape": lambda x: x[0, :, None, :].repeat(x.size(0), 1, 1)
    + x.reshape(-1, 1, 4) * x.reshape(-1, 4, 1),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", TRACED_REPEATS)
def test_repeat_of_a_dim_larger_than_one_by_a_traced_count_is_a_tile(name, frontend):
    """The counts traced at run time are concatenated into Tile's repeats."""
    torch.manual_seed(0)
    models = export_checked(Wrap(TRACED_REPEATS[name]), torch.randn(*X), frontend=frontend)
    assert "Tile" in onnx_ops(models[18]) and "Concat" in onnx_ops(models[18])


def test_expand_of_dynamic_dim_to_a_fixed_size_is_a_shape_error():
    with pytest.raises(ShapeError, match="a dynamic dim needs -1"):
        graphnn.trace(Wrap(lambda x: x.expand(2, 3, 4)), torch.randn(*X), dynamic_dims=[{0: "batch"}])


LIKE = {
    "zeros_like": lambda x: torch.zeros_like(x) + x, "ones_like": lambda x: torch.ones_like(x, dtype=torch.int64),
    "full_like": lambda x: torch.full_like(x, 2.5), "full_like_bool": lambda x: torch.full_like(x, 1, dtype=torch.bool),
    "new_zeros": lambda x: x.new_zeros(3, 4) + x, "new_ones": lambda x: x.new_ones((4,)) * x,
    "new_full": lambda x: x + x.new_full((3, 1), 7.0), "new_zeros_dtype": lambda x: x.new_zeros(2, dtype=torch.int64),
}


@pytest.mark.parametrize("name", LIKE)
def test_tensors_shaped_like(name):
    torch.manual_seed(0)
    export_checked(Wrap(LIKE[name]), torch.randn(*X))


def test_zeros_like_follows_the_dynamic_batch():
    models = export_checked(Wrap(lambda x: torch.zeros_like(x)), torch.randn(*X))
    assert onnx_ops(models[18]) == ["Shape", "ConstantOfShape"]


def test_bad_permutation_dim_is_a_shape_error():
    with pytest.raises(ShapeError, match="has dim=3, out of range for a 3-d input"):
        graphnn.trace(Wrap(lambda x: x.transpose(1, 3)), torch.randn(*X))


def test_new_ones_of_traced_sizes_follows_the_batch():
    """x.new_ones(x.size(0), 3): a scalar expanded to the run-time sizes."""
    model = Wrap(lambda x: x.new_ones(x.size(0), 3) * x.sum(1, keepdim=True))
    models = export_checked(model, torch.randn(2, 5))
    assert "Expand" in onnx_ops(models[18])


def test_reshape_by_derived_dims_is_checked_with_algebra():
    """(batch, 2, t, 4) -> (batch, 2*t, 4) where t is dynamic: equal products, no error."""
    model = Wrap(lambda x: x.reshape(x.size(0), x.size(1), 2, -1).transpose(1, 2)
                 .reshape(x.size(0), x.size(1) * 2, -1))
    graph = graphnn.trace(model, torch.randn(2, 5, 8), dynamic_dims=[{0: "batch", 1: "seq"}])
    assert graph.values[graph.outputs[0]].shape == ("batch", "2*seq", 4)
    export_checked(model, torch.randn(2, 5, 8), dynamic_dims=[{0: "batch", 1: "seq"}])


def test_view_minus_one_is_the_product_of_the_dynamic_dims():
    """GPT-2's Conv1D: x.view(-1, C) of (batch, seq, C), then back to (batch, seq, C')."""
    model = Wrap(lambda x: (x.view(-1, x.size(-1)) * 2).view(x.size(0), x.size(1), 8))
    graph = graphnn.trace(model, torch.randn(2, 5, 8), dynamic_dims=[{0: "batch", 1: "seq"}])
    flat = next(n for n in graph.nodes() if n.op == "reshape")
    assert graph.values[flat.outputs[0]].shape == ("batch*seq", 8)
    export_checked(model, torch.randn(2, 5, 8), dynamic_dims=[{0: "batch", 1: "seq"}])


UNINITIALIZED = {  # empty tensors are written before they are read; graphnn's hold zeros
    "empty_like_fill": lambda x: torch.empty_like(x).fill_(2.0) + x,
    "empty_like_dtype_zero": lambda x: torch.empty_like(x, dtype=torch.long).zero_().float() + x,
    "new_empty_fill": lambda x: x.new_empty(5).fill_(3.0) * x,
    "new_empty_traced_size": lambda x: x.new_empty((x.size(0), 1)).fill_(1.0) + x,
}


@pytest.mark.parametrize("name", UNINITIALIZED)
def test_empty_like_and_new_empty(name):
    export_checked(Wrap(UNINITIALIZED[name]), torch.randn(3, 5), frontend="export")
    export_checked(Wrap(UNINITIALIZED[name]), torch.randn(3, 5), frontend="fx")
