"""Parity of indexing by several integer tensors in adjacent dims (ONNX GatherND): the
index tensors broadcast against each other, as in transformers' padding masks
``mask[batch_idx, kv_idx]``, with batch and sequence length varied."""
import pytest
import torch

from tests.parity_utils import Wrap, export_checked, onnx_ops

ROWS = torch.tensor([[0], [2], [-1]])
COLS = torch.tensor([1, 3, -2, 0])

INDEXING = {
    "pairs": lambda x: x[ROWS[:, 0], COLS[:3]],
    "broadcast": lambda x: x[ROWS, COLS],
    "after_a_slice": lambda x: x.unsqueeze(0).expand(2, -1, -1)[:, ROWS, COLS],
    "leading_dims_of_3d": lambda x: x.unsqueeze(-1).expand(-1, -1, 2)[ROWS, COLS],
    "int32": lambda x: x[ROWS.int(), COLS.int()],
}


@pytest.mark.parametrize("name", INDEXING)
def test_indexing_by_several_tensors(name):
    torch.manual_seed(0)
    models = export_checked(Wrap(INDEXING[name]), torch.randn(4, 5), dynamic_batch=False)
    for opset in models:
        assert onnx_ops(models[opset]).count("GatherND") == 1


class PaddingMask(torch.nn.Module):
    """transformers' sdpa_mask: mask[batch_idx, kv_idx] with (batch,1,1,1) and (1,1,1,seq) indices."""

    def forward(self, attention_mask):
        batch, seq = attention_mask.shape
        batch_idx = torch.arange(batch)[:, None, None, None]
        kv_idx = torch.arange(seq)[None, None, None, :]
        return attention_mask.bool()[batch_idx, kv_idx].expand(batch, 1, seq, seq).float()


def test_padding_mask_of_traced_sizes():
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[0, 4:] = 0
    models = export_checked(PaddingMask(), {"attention_mask": mask},
                            dynamic_dims={"attention_mask": {0: "batch", 1: "seq"}}, frontend="export")
    assert "GatherND" in onnx_ops(models[18])


class InversePermutation(torch.nn.Module):
    """transformers' MoE layers (grouped_mm experts): the sort undone by ``inv[perm] = arange``."""

    def forward(self, scores):
        _, perm = torch.sort(scores.reshape(-1))
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.size(0))
        return inverse


class PutPairs(torch.nn.Module):
    """``x[rows, cols] = v``: two index tensors, values broadcast over the indexed part."""

    def forward(self, x, v):
        y = x * 1
        y[ROWS[:, 0], COLS[:3]] = v
        return y


@pytest.mark.parametrize("model, inputs", [
    (InversePermutation(), (torch.randn(3, 4),)),
    (PutPairs(), (torch.randn(4, 5), torch.randn(3))),
    (PutPairs(), (torch.randn(4, 5), torch.tensor(2.0))),
], ids=["inverse_permutation", "pairs", "pairs_scalar"])
def test_assigning_through_index_tensors(model, inputs):
    models = export_checked(model, inputs, dynamic_batch=False, frontend="export")
    assert "ScatterND" in onnx_ops(models[18])


def test_assigning_through_index_tensors_with_a_dynamic_count():
    """The number of tokens is the batch: the scattered indices follow it at run time."""
    export_checked(InversePermutation(), (torch.randn(3, 4),), dynamic_dims=[{0: "batch"}], frontend="export")


def _assigned(index, value):
    """``y[index] = value(y)`` on a copy of x."""
    def assign(x):
        y = x * 1
        y[index] = value(y)
        return y
    return assign


AFTER_SLICES = {  # x[:, idx] = v: the indexed dims after leading slices
    "columns_to_a_number": (_assigned((slice(None), torch.tensor([1, 3])), lambda y: 0.0), (3, 5)),
    "columns_to_a_tensor": (_assigned((slice(None), torch.tensor([4, 0])), lambda y: y[:, :2] * 2), (3, 5)),
    "middle_dim_broadcast_values": (_assigned((slice(None), torch.tensor([0, 2])), lambda y: y[0, :1] + 1), (3, 4, 5)),
    "last_dim_by_a_2d_index": (_assigned((slice(None), slice(None), torch.tensor([[0, 2], [1, 3]])),
                                         lambda y: -1.0), (3, 4, 5)),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", AFTER_SLICES)
def test_assigning_through_index_tensors_after_slices(name, frontend):
    """The batch stays dynamic: only the indexed dims move to the front for the ScatterND."""
    function, shape = AFTER_SLICES[name]
    models = export_checked(Wrap(function), torch.randn(*shape), frontend=frontend)
    assert "ScatterND" in onnx_ops(models[18])
