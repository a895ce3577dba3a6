"""Parity of topk, sort, argsort (ONNX TopK) and cumprod (a masked ReduceProd), under fx and
torch.export, values and indices alike, at static and dynamic sizes."""
import pytest
import torch

from tests.parity_utils import Wrap, export_checked, onnx_ops

TOPK = {
    "topk_values": lambda x: torch.topk(x, 3).values,
    "topk_indices_dim0_smallest": lambda x: torch.topk(x, 1, dim=0, largest=False)[1].float(),
    "topk_method_both": lambda x: sum(t.float() for t in x.topk(2, dim=1)),
    "sort_values": lambda x: torch.sort(x, dim=-1).values,
    "sort_descending_indices": lambda x: x.sort(descending=True)[1].float() + x,
    "sort_batch_dim": lambda x: torch.sort(x, dim=0)[0],  # k is the dynamic batch, read off the shape
    "argsort": lambda x: torch.argsort(x, dim=1).float(),
    "argsort_descending_method": lambda x: x.argsort(descending=True).float(),
    "sort_int": lambda x: (x * 10).long().sort(dim=-1).values.float(),
    "sort_bool": lambda x: (x > 0.5).sort(dim=-1).values.float(),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", TOPK)
def test_topk_sort_argsort(name, frontend):
    models = export_checked(Wrap(TOPK[name]), torch.randn(3, 6), frontend=frontend)
    assert "TopK" in onnx_ops(models[18])


CUMPROD = {
    "last": lambda x: torch.cumprod(x, -1),
    "method_batch_dim": lambda x: x.cumprod(0),  # the dynamic dim: the mask is sized at run time
    "middle_3d": lambda x: x.view(x.size(0), 2, 3).cumprod(1),
    "int_to_int64": lambda x: (x * 3).int().cumprod(1).float(),
    "dtype": lambda x: torch.cumprod(x > 0, 1, dtype=torch.float32),
    "zeros_and_negatives": lambda x: torch.cumprod(torch.where(x > 1.5, 0.0, x - 0.5), 1),  # exact, unlike exp(cumsum(log))
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", CUMPROD)
def test_cumprod(name, frontend):
    models = export_checked(Wrap(CUMPROD[name]), torch.randn(3, 6) + 1, frontend=frontend)
    assert "ReduceProd" in onnx_ops(models[18])
