"""Parity of reductions (every dim form, keepdim, the dynamic batch dim), the three
forms of max / min, argmax / argmin, var / std corrections, norms and logsumexp;
and the opset-dependent ONNX form (axes attribute at 13, axes input at 18)."""
import math

import pytest
import torch

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

X = (3, 4, 5)

REDUCTIONS = {
    "sum": lambda x: x.sum(), "sum_dim": lambda x: x.sum(1), "sum_batch": lambda x: x.sum(0),
    "sum_tuple": lambda x: torch.sum(x, (0, 2)), "sum_keepdim": lambda x: x.sum(-1, keepdim=True),
    "sum_dtype": lambda x: x.sum(1, dtype=torch.float64), "sum_of_bool": lambda x: (x > 0).sum(1),
    "sum_of_int": lambda x: (x * 3).int().sum(), "mean": lambda x: x.mean(), "mean_dim": lambda x: torch.mean(x, -1),
    "mean_batch_keepdim": lambda x: x.mean(0, keepdim=True), "mean_list": lambda x: x.mean([1, 2]),
    "prod": lambda x: x.prod(1), "torch.prod": lambda x: torch.prod(x), "prod_keepdim": lambda x: x.prod(0, True),
    "amax": lambda x: x.amax(), "amax_dims": lambda x: torch.amax(x, (1, 2)), "amin": lambda x: x.amin(-1, True),
    "max_all": lambda x: x.max(), "min_all": lambda x: torch.min(x),
    "max_dim_values": lambda x: x.max(1)[0], "max_dim_both": lambda x: torch.max(x, dim=2, keepdim=True),
    "min_dim": lambda x: x.min(-1), "min_dim_indices": lambda x: torch.min(x, 0)[1],
    "argmax": lambda x: x.argmax(), "argmax_dim": lambda x: torch.argmax(x, 1),
    "argmin_keepdim": lambda x: x.argmin(dim=-1, keepdim=True), "argmin": lambda x: torch.argmin(x),
    "logsumexp": lambda x: torch.logsumexp(x * 20, 1), "x.logsumexp": lambda x: x.logsumexp((0, 2), keepdim=True),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions(name):
    torch.manual_seed(0)
    export_checked(Wrap(REDUCTIONS[name]), torch.randn(*X))


SPREAD = {
    "var": lambda x: x.var(), "var_dim": lambda x: x.var(1), "var_batch": lambda x: torch.var(x, 0),
    "var_unbiased_false": lambda x: x.var(1, unbiased=False), "var_positional": lambda x: x.var(1, False, True),
    "var_old_form": lambda x: x.var(False), "var_correction": lambda x: torch.var(x, (1, 2), correction=0),
    "var_correction_2": lambda x: x.var(-1, correction=2, keepdim=True),
    "std": lambda x: x.std(), "std_dim": lambda x: torch.std(x, 2), "std_batch": lambda x: x.std(0, keepdim=True),
    "std_unbiased_false": lambda x: x.std(dim=1, unbiased=False),
    "std_correction": lambda x: x.std((0, 1), correction=0),
}


@pytest.mark.filterwarnings("ignore:.*degrees of freedom", "ignore:All-NaN slice")
@pytest.mark.parametrize("name", SPREAD)
def test_var_std(name):
    """Over the batch, the batch-1 parity run has N - correction = 0: inf / nan as in torch."""
    torch.manual_seed(0)
    export_checked(Wrap(SPREAD[name]), torch.randn(*X))


NORMS = {
    "norm": lambda x: x.norm(), "norm_dim": lambda x: x.norm(dim=1), "norm_p1": lambda x: x.norm(1, 2),
    "torch.norm": lambda x: torch.norm(x, 2, -1, keepdim=True), "norm_fro": lambda x: torch.norm(x, "fro", (1, 2)),
    "norm_inf": lambda x: x.norm(float("inf"), 1), "norm_neg_inf": lambda x: x.norm(-math.inf, 1),
    "norm_p3": lambda x: x.norm(p=3, dim=1), "norm_p0": lambda x: (x * (x > 0)).norm(0, 2),
    "vector_norm": lambda x: torch.linalg.vector_norm(x),
    "vector_norm_dim": lambda x: torch.linalg.vector_norm(x, 1, -1),
    "vector_norm_batch": lambda x: torch.linalg.vector_norm(x, dim=0, keepdim=True),
    "linalg_norm": lambda x: torch.linalg.norm(x, dim=1), "linalg_norm_fro": lambda x: torch.linalg.norm(x),
    "linalg_norm_ord": lambda x: torch.linalg.norm(x, 1, dim=-1),
}


@pytest.mark.parametrize("name", NORMS)
def test_norms(name):
    torch.manual_seed(0)
    export_checked(Wrap(NORMS[name]), torch.randn(*X))


@pytest.mark.parametrize("fn, op_type", [
    (lambda x: x.mean(1), "ReduceMean"), (lambda x: x.amax(1), "ReduceMax"), (lambda x: x.amin(1), "ReduceMin"),
    (lambda x: x.prod(1), "ReduceProd"), (lambda x: x.norm(dim=1), "ReduceL2"), (lambda x: x.norm(1, 1), "ReduceL1"),
    (lambda x: x.logsumexp(1), "ReduceLogSumExp"),
])
def test_axes_are_an_input_at_18_and_an_attribute_at_13(fn, op_type):
    models = export_checked(Wrap(fn), torch.randn(*X))
    new, old = models[18].graph.node[0], models[13].graph.node[0]
    assert new.op_type == old.op_type == op_type
    assert len(new.input) == 2 and all(a.name != "axes" for a in new.attribute)
    assert len(old.input) == 1 and [a.ints for a in old.attribute if a.name == "axes"] == [[1]]


def test_reduce_sum_takes_axes_as_input_at_13():
    models = export_checked(Wrap(lambda x: x.sum(1)), torch.randn(*X))
    assert [len(models[opset].graph.node[0].input) for opset in (18, 13)] == [2, 2]


def test_sum_over_the_dynamic_batch_keeps_the_rest():
    graph = graphnn.trace(Wrap(lambda x: x.sum(0)), torch.randn(*X))
    assert graph.values[graph.outputs[0]].shape == (4, 5)


def test_max_with_dim_is_one_node_with_two_outputs():
    graph = graphnn.trace(Wrap(lambda x: x.max(1)), torch.randn(*X))
    assert graph.ops() == ["max_dim"]
    models = export_checked(Wrap(lambda x: x.max(1)), torch.randn(*X))
    assert onnx_ops(models[18]) == ["ReduceMax", "ArgMax"]


def test_bad_reduction_dim_is_a_shape_error():
    with pytest.raises(ShapeError, match="has dim=3, out of range for a 3-d input"):
        graphnn.trace(Wrap(lambda x: x.sum(3)), torch.randn(*X))


@pytest.mark.parametrize("fn", [
    lambda x: torch.linalg.norm(x[0], 2),
    lambda x: x.norm("nuc", (1, 2)),
    lambda x: x.argmax(keepdim=True),
])
def test_refused_reductions(fn):
    with pytest.raises(UnsupportedError):
        graphnn.trace(Wrap(fn), torch.randn(*X))


HISTOGRAMS = {
    "expert_ids": (lambda x: torch.histc(torch.topk(x, 2).indices.reshape(-1).float(), bins=4, min=0, max=3),
                   torch.randn(5, 4)),  # transformers' MoE: tokens per expert
    "outside_and_at_max": (lambda x: x.histc(bins=5, min=-1, max=1),
                           torch.tensor([[-2.0, -1.0, -0.5, 0.0], [0.3, 1.0, 1.5, 0.99]])),
}


@pytest.mark.parametrize("name", HISTOGRAMS)
def test_histc(name):
    """Elements outside [min, max] are not counted; max itself is in the last bin."""
    function, x = HISTOGRAMS[name]
    models = export_checked(Wrap(function), x, dynamic_batch=name == "expert_ids")
    assert "ReduceSum" in onnx_ops(models[18])


def test_histc_without_a_range_is_refused():
    with pytest.raises(UnsupportedError, match="histc without a range"):
        graphnn.trace(Wrap(lambda x: torch.histc(x, bins=4)), torch.randn(3, 4))
