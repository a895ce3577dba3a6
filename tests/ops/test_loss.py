"""Parity of losses as models (``forward(pred, target)``): CrossEntropyLoss (class indices
and probabilities, label_smoothing, ignore_index, weight), NLLLoss, MSELoss, L1Loss,
BCELoss, BCEWithLogitsLoss (pos_weight), SmoothL1Loss (beta), HuberLoss (delta) and
KLDivLoss (log_target, batchmean), each with reduction none / mean / sum, their
functional spellings, unbatched and spatial inputs; label_smoothing is checked against
torch numerically (the dynamo exporter drops it)."""
import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, attr, export_checked, onnx_ops

pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")

REDUCTIONS = ["none", "mean", "sum"]
BATCH = [{0: "batch"}, {0: "batch"}]  # 1-d targets: the batch varies in both inputs
CLASS_WEIGHT = torch.tensor([0.5, 2.0, 1.0, 0.25, 3.0])


def scores_and_labels(batch=6, classes=5):
    torch.manual_seed(0)
    return torch.randn(batch, classes), torch.tensor([1, 3, 0, 2, 4, 1][:batch])


def run_onnx(model, *inputs):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0]


# --------------------------------------------------------------- CrossEntropy
CE_OPTIONS = {
    "plain": {},
    "weight": {"weight": CLASS_WEIGHT},
    "ignore_index": {"ignore_index": 1},
    "weight_ignore_index": {"weight": CLASS_WEIGHT, "ignore_index": 1},
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", CE_OPTIONS)
def test_cross_entropy_with_class_indices_is_one_onnx_loss(reduction, option):
    models = export_checked(nn.CrossEntropyLoss(reduction=reduction, **CE_OPTIONS[option]), scores_and_labels(),
                            dynamic_dims=BATCH)
    for model in models.values():
        assert onnx_ops(model) == ["SoftmaxCrossEntropyLoss"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", CE_OPTIONS)
def test_cross_entropy_with_label_smoothing(reduction, option):
    loss = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.2, **CE_OPTIONS[option])
    models = export_checked(loss, scores_and_labels(), dynamic_dims=BATCH)
    for model in models.values():
        ops = onnx_ops(model)
        assert ops[0] == "SoftmaxCrossEntropyLoss" and "ReduceSum" in ops and ops[-1] == "Add"


@pytest.mark.parametrize("option", CE_OPTIONS)
def test_label_smoothing_matches_torch_numerically(option):
    """The case the official exporter gets wrong: the result must be torch's smoothed loss,
    which differs clearly from the unsmoothed one."""
    scores, labels = scores_and_labels()
    scores = scores + 4 * F.one_hot(labels, 5)  # confident predictions: smoothing moves the loss a lot
    smoothed = nn.CrossEntropyLoss(label_smoothing=0.3, **CE_OPTIONS[option])
    plain = nn.CrossEntropyLoss(**CE_OPTIONS[option])
    for opset in (18, 13):
        onnx_model = graphnn.lower(graphnn.optimize(graphnn.trace(smoothed, (scores, labels), dynamic_batch=False)),
                                   opset)
        got = run_onnx(onnx_model, scores, labels)
        want = smoothed(scores, labels).item()
        assert abs(got - want) < 1e-5, (got, want)
        assert abs(got - plain(scores, labels).item()) > 0.5


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_class_probabilities(reduction, smoothing, weighted):
    torch.manual_seed(0)
    weight = CLASS_WEIGHT if weighted else None
    loss = nn.CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing)
    models = export_checked(loss, (torch.randn(4, 5), torch.softmax(torch.randn(4, 5), dim=1)))
    for model in models.values():
        ops = onnx_ops(model)
        assert "LogSoftmax" in ops and "SoftmaxCrossEntropyLoss" not in ops


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_of_spatial_scores(reduction, smoothing):
    """(N, C, H, W) scores and (N, H, W) labels, as in segmentation."""
    torch.manual_seed(0)
    loss = nn.CrossEntropyLoss(weight=CLASS_WEIGHT, ignore_index=4, reduction=reduction, label_smoothing=smoothing)
    export_checked(loss, (torch.randn(2, 5, 3, 4), torch.randint(0, 5, (2, 3, 4))))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_of_one_unbatched_sample(reduction, smoothing):
    torch.manual_seed(0)
    loss = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
    export_checked(loss, (torch.randn(5), torch.tensor(3)))
    export_checked(loss, (torch.randn(5), torch.softmax(torch.randn(5), dim=0)))


def test_functional_cross_entropy():
    scores, labels = scores_and_labels()
    fn = Wrap(lambda x, y: F.cross_entropy(x, y, weight=CLASS_WEIGHT, ignore_index=0, label_smoothing=0.1))
    export_checked(fn, (scores, labels), dynamic_dims=BATCH)


def test_legacy_size_average_means_sum():
    scores, labels = scores_and_labels()
    models = export_checked(Wrap(lambda x, y: F.cross_entropy(x, y, size_average=False)), (scores, labels),
                            dynamic_dims=BATCH)
    assert attr(models[18], "SoftmaxCrossEntropyLoss", "reduction") == b"sum"


# --------------------------------------------------------------------- NLL
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", CE_OPTIONS)
def test_nll_loss(reduction, option):
    scores, labels = scores_and_labels()
    loss = nn.NLLLoss(reduction=reduction, **CE_OPTIONS[option])
    models = export_checked(loss, (torch.log_softmax(scores, dim=1), labels), dynamic_dims=BATCH)
    for model in models.values():
        assert onnx_ops(model) == ["NegativeLogLikelihoodLoss"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_unbatched_and_spatial(reduction):
    torch.manual_seed(0)
    export_checked(nn.NLLLoss(reduction=reduction), (torch.randn(5), torch.tensor(2)))
    export_checked(Wrap(lambda x, y: F.nll_loss(x, y, weight=CLASS_WEIGHT, reduction=reduction)),
                   (torch.randn(2, 5, 3), torch.randint(0, 5, (2, 3))))


# -------------------------------------------------------- elementwise losses
def pair(shape=(4, 3), probabilities=False):
    torch.manual_seed(0)
    if probabilities:
        return torch.rand(*shape), torch.rand(*shape)
    return torch.randn(*shape) * 2, torch.randn(*shape) * 2


ELEMENTWISE = {  # name: (loss module factory, inputs, the ONNX ops before the reduction)
    "mse": (lambda r: nn.MSELoss(reduction=r), pair(), ["Sub", "Mul"]),
    "l1": (lambda r: nn.L1Loss(reduction=r), pair(), ["Sub", "Abs"]),
    "smooth_l1": (lambda r: nn.SmoothL1Loss(reduction=r), pair(), ["Sub", "Abs", "Mul", "Mul", "Sub", "Less", "Where"]),
    "smooth_l1_beta": (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.5), pair(),
                       ["Sub", "Abs", "Mul", "Mul", "Sub", "Less", "Where"]),
    "smooth_l1_beta_0": (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.0), pair(), ["Sub", "Abs"]),
    "huber": (lambda r: nn.HuberLoss(reduction=r), pair(), ["Sub", "Abs", "Mul", "Mul", "Sub", "Less", "Where"]),
    "huber_delta": (lambda r: nn.HuberLoss(reduction=r, delta=2.5), pair(),
                    ["Sub", "Abs", "Mul", "Mul", "Sub", "Mul", "Less", "Where"]),
    "bce": (lambda r: nn.BCELoss(reduction=r), pair(probabilities=True),
            ["Log", "Max", "Sub", "Log", "Max", "Sub", "Mul", "Mul", "Sub"]),
    "bce_weight": (lambda r: nn.BCELoss(reduction=r, weight=torch.tensor([1.0, 0.5, 2.0])), pair(probabilities=True),
                   ["Log", "Max", "Sub", "Log", "Max", "Sub", "Mul", "Mul", "Sub", "Mul"]),
    "bce_with_logits": (lambda r: nn.BCEWithLogitsLoss(reduction=r), pair(), None),
    "bce_with_logits_pos_weight": (
        lambda r: nn.BCEWithLogitsLoss(reduction=r, weight=torch.tensor([1.0, 0.5, 2.0]),
                                       pos_weight=torch.tensor([3.0, 1.0, 0.5])), pair(), None),
    "kl_div": (lambda r: nn.KLDivLoss(reduction=r), pair(probabilities=True), None),
    "kl_div_log_target": (lambda r: nn.KLDivLoss(reduction=r, log_target=True), pair(), ["Exp", "Sub", "Mul"]),
}
REDUCE_OP = {"mean": "ReduceMean", "sum": "ReduceSum"}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_losses(name, reduction):
    make, inputs, ops = ELEMENTWISE[name]
    models = export_checked(make(reduction), inputs)
    for model in models.values():
        got = onnx_ops(model)
        if ops is not None:
            assert got == ops + ([REDUCE_OP[reduction]] if reduction != "none" else [])
        assert (got[-1] == REDUCE_OP[reduction]) if reduction != "none" else not {"ReduceMean", "ReduceSum"} & set(got)


def test_bce_clamps_the_log_at_minus_100_as_torch():
    """Predictions of exactly 0 and 1 give log(0) = -inf; torch clamps it to -100."""
    inputs = (torch.tensor([[0.0, 1.0, 0.5]]), torch.tensor([[1.0, 0.0, 1.0]]))
    model = graphnn.lower(graphnn.trace(nn.BCELoss(reduction="none"), inputs), 13)
    np.testing.assert_allclose(run_onnx(model, *inputs), nn.BCELoss(reduction="none")(*inputs).numpy(), rtol=1e-6)


def test_bce_with_logits_does_not_overflow():
    inputs = (torch.tensor([[-200.0, 200.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.5]]))
    loss = nn.BCEWithLogitsLoss(reduction="none", pos_weight=torch.tensor([2.0, 1.0, 1.0]))
    model = graphnn.lower(graphnn.trace(loss, inputs), 18)
    np.testing.assert_allclose(run_onnx(model, *inputs), loss(*inputs).numpy(), rtol=1e-6)


def test_kl_div_zero_target_gives_zero():
    inputs = (torch.log(torch.tensor([[0.2, 0.8]])), torch.tensor([[0.0, 1.0]]))
    model = graphnn.lower(graphnn.trace(nn.KLDivLoss(reduction="none"), inputs), 18)
    np.testing.assert_allclose(run_onnx(model, *inputs), nn.KLDivLoss(reduction="none")(*inputs).numpy(), rtol=1e-6)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_batchmean_divides_by_the_dynamic_batch(log_target):
    torch.manual_seed(0)
    loss = nn.KLDivLoss(reduction="batchmean", log_target=log_target)
    target = torch.log_softmax(torch.randn(4, 3), 1) if log_target else torch.rand(4, 3)
    models = export_checked(loss, (torch.log_softmax(torch.randn(4, 3), 1), target))
    assert onnx_ops(models[18])[-5:] == ["ReduceSum", "Shape", "Gather", "Cast", "Div"]


FUNCTIONAL = {
    "F.mse_loss": lambda x, y: F.mse_loss(x, y, reduction="sum"),
    "F.mse_loss_weight": lambda x, y: F.mse_loss(x, y, weight=torch.tensor([[1.0, 2.0, 0.5]] * 4)),
    "F.l1_loss": lambda x, y: F.l1_loss(x, y),
    "F.smooth_l1_loss": lambda x, y: F.smooth_l1_loss(x, y, beta=2.0),
    "F.huber_loss": lambda x, y: F.huber_loss(x, y, delta=0.5),
    "F.huber_loss_weight": lambda x, y: F.huber_loss(x, y, weight=torch.tensor([[1.0, 2.0, 0.5]] * 4)),
    "F.binary_cross_entropy": lambda x, y: F.binary_cross_entropy(torch.sigmoid(x), torch.sigmoid(y)),
    "F.binary_cross_entropy_with_logits": lambda x, y: F.binary_cross_entropy_with_logits(
        x, torch.sigmoid(y), pos_weight=torch.tensor([2.0, 1.0, 0.5])),
    "F.kl_div": lambda x, y: F.kl_div(F.log_softmax(x, 1), F.softmax(y, 1), reduction="batchmean"),
    "legacy_reduce_false": lambda x, y: F.mse_loss(x, y, reduce=False),
}


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_losses(name):
    export_checked(Wrap(FUNCTIONAL[name]), pair(), dynamic_batch=not name.endswith("_weight"))


def test_broadcast_target():
    """torch broadcasts a differently shaped target (with a warning); so does graphnn."""
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        export_checked(nn.MSELoss(), (torch.randn(4, 3), torch.randn(3)))


# ------------------------------------------------------------------ refusals
def test_unknown_reduction_is_refused():
    with pytest.raises(UnsupportedError, match=r"reduction='avg' \(torch knows 'none', 'mean', 'sum'\)"):
        graphnn.trace(Wrap(lambda x, y: F.mse_loss(x, y, reduction="avg")), pair())


def test_class_weight_computed_in_forward_is_refused():
    scores, labels = scores_and_labels()
    with pytest.raises(UnsupportedError, match="a class weight computed in forward"):
        graphnn.trace(Wrap(lambda x, y: F.cross_entropy(x, y, weight=x[0].abs())), (scores, labels),
                      dynamic_dims=BATCH)


def test_label_smoothing_over_a_dynamic_class_dim_is_refused():
    scores, labels = scores_and_labels()
    with pytest.raises(UnsupportedError, match=r"label_smoothing with a number of classes \(classes\) that varies"):
        graphnn.trace(nn.CrossEntropyLoss(label_smoothing=0.1), (scores, labels), dynamic_dims=[{1: "classes"}])


def test_target_of_the_wrong_shape_is_a_shape_error():
    scores, labels = scores_and_labels()
    with pytest.raises(ShapeError, match=r"expects a target of one class index per sample \(batch\), gets \(6\) "
                                         r"\(declare the target's dims dynamic too: dynamic_dims="):
        graphnn.trace(nn.CrossEntropyLoss(), (scores, labels), dynamic_dims=[{0: "batch"}])


def test_int32_class_indices_are_a_shape_error():
    scores, _ = scores_and_labels()
    with pytest.raises(ShapeError, match="expects int64 class indices as target, gets int32"):
        graphnn.trace(nn.NLLLoss(), (scores, torch.tensor([0, 1, 2, 3, 4, 0], dtype=torch.int32)),
                      dynamic_dims=BATCH)
