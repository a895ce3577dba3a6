"""Parity of topk, sort, argsort (ONNX TopK), the order statistics built on it (median,
kthvalue, quantile), bucketize / searchsorted, and the running reductions (cumprod, cummax /
cummin, logcumsumexp: masked reductions), under fx and torch.export, values and indices alike,
at static and dynamic sizes."""
import pytest
import torch

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
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


RUNNING = {  # name: (function, the ONNX reduction it lowers to)
    "cummax_values": (lambda x: torch.cummax(x, 1).values, "ReduceMax"),
    "cummax_indices": (lambda x: torch.cummax(x, -1)[1].float(), "ReduceMax"),
    "cummin_method_batch_dim": (lambda x: sum(t.float() for t in x.cummin(0)), "ReduceMin"),
    "cummax_ties_take_the_last": (lambda x: torch.cummax((x * 2).round(), 1).indices.float(), "ReduceMax"),
    "cummin_int": (lambda x: sum(t.float() for t in torch.cummin((x * 4).long(), 1)), "ReduceMin"),
    "cummax_bool": (lambda x: torch.cummax(x > 0.5, 1).values.float(), "ReduceMax"),
    "cummax_middle_3d": (lambda x: x.view(x.size(0), 2, 3).cummax(1).values, "ReduceMax"),
    "logcumsumexp": (lambda x: torch.logcumsumexp(x, 1), "ReduceLogSumExp"),
    "logcumsumexp_large_values": (lambda x: (x * 80).logcumsumexp(-1), "ReduceLogSumExp"),  # exp would overflow
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", RUNNING)
def test_running_reductions(name, frontend):
    function, reduction = RUNNING[name]
    models = export_checked(Wrap(function), torch.randn(3, 6), frontend=frontend)
    assert reduction in onnx_ops(models[18])


ORDER_STATISTICS = {
    "median_dim": lambda x: torch.median(x, 1).values,
    "median_indices_keepdim": lambda x: x.median(-1, keepdim=True).indices.float(),
    "median_even_count_is_the_lower": lambda x: x[:, :6].median(1)[0],
    "median_all": lambda x: x[0].median() + x,  # no dim: of every element, 0-d
    "kthvalue": lambda x: torch.kthvalue(x, 2, dim=1).values,
    "kthvalue_indices_keepdim": lambda x: x.kthvalue(5, keepdim=True)[1].float(),
    "quantile_linear": lambda x: torch.quantile(x, 0.3, dim=1),
    "quantile_keepdim_method": lambda x: x.quantile(0.75, dim=-1, keepdim=True),
    "quantile_q_tensor": lambda x: torch.quantile(x, torch.tensor([0.1, 0.5, 0.9]), dim=1),
    "quantile_all_keepdim": lambda x: torch.quantile(x[0], 0.5, keepdim=True) + x,
    **{f"quantile_{mode}": (lambda mode: lambda x: torch.quantile(x, 0.4, dim=1, interpolation=mode))(mode)
       for mode in ("lower", "higher", "midpoint", "nearest")},
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", ORDER_STATISTICS)
def test_order_statistics(name, frontend):
    models = export_checked(Wrap(ORDER_STATISTICS[name]), torch.randn(3, 7), frontend=frontend)
    assert "TopK" in onnx_ops(models[18])


def test_median_along_a_dynamic_dim_is_refused_by_name():
    with pytest.raises(UnsupportedError, match="median along a dim whose size is known only at run time"):
        graphnn.trace(Wrap(lambda x: x.median(0).values), torch.randn(3, 7))


def test_kthvalue_past_the_dim_is_a_shape_error():
    with pytest.raises(ShapeError, match="expects k from 1 to 7"):
        graphnn.trace(Wrap(lambda x: x.kthvalue(8).values), torch.randn(3, 7))


class Boundaries(torch.nn.Module):
    """Buckets from a buffer of sorted boundaries, as feature discretisers hold them."""

    def __init__(self, function):
        super().__init__()
        self.function = function
        self.register_buffer("boundaries", torch.tensor([-1.0, -0.25, 0.0, 0.5, 1.5]))

    def forward(self, x):
        return self.function(x, self.boundaries)


BUCKETS = {
    "bucketize": lambda x, b: torch.bucketize(x, b).float(),
    "bucketize_right_int32": lambda x, b: torch.bucketize(x.round(), b, right=True, out_int32=True).float(),
    "bucketize_on_a_boundary": lambda x, b: torch.bucketize(torch.where(x > 0, 0.5, x), b).float(),
    "searchsorted_1d": lambda x, b: torch.searchsorted(b, x).float(),
    "searchsorted_side_right": lambda x, b: torch.searchsorted(b, torch.where(x > 0, 0.0, x), side="right").float(),
    "searchsorted_batched": lambda x, b: torch.searchsorted(x.sort(dim=1).values, x[:, :2] * 0.5).float(),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", BUCKETS)
def test_bucketize_and_searchsorted(name, frontend):
    export_checked(Boundaries(BUCKETS[name]), torch.randn(3, 6), frontend=frontend)
