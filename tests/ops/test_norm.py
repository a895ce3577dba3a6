"""Parity of the normalisation family: BatchNorm (running and batch statistics, lowered
directly, one BatchNormalization when nothing to fold into), InstanceNorm, LayerNorm, GroupNorm, RMSNorm,
LocalResponseNorm and F.normalize, in module and functional spellings; which ONNX op
each opset gets; shape errors and refusals."""
import math
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

DECOMPOSED = {"ReduceMean", "Sub", "Sqrt", "Div"}


def randomized(module):
    """Random affine params and running statistics (variances positive), so parity means something."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            if "var" in name:
                tensor.uniform_(0.5, 2.0)
            else:
                tensor.normal_()
    return module


class Stateful(nn.Module):
    """``fn(x, self)`` over registered tensors: functional spellings fed module state
    (nn.Parameter values become parameters, others buffers)."""

    def __init__(self, fn, **tensors):
        super().__init__()
        self.fn = fn
        for name, tensor in tensors.items():
            if isinstance(tensor, nn.Parameter):
                self.register_parameter(name, tensor)
            else:
                self.register_buffer(name, tensor)

    def forward(self, x):
        return self.fn(x, self)


def channel_state(channels=4, affine=True, stats=True):
    torch.manual_seed(2)
    state = {}
    if stats:
        state.update(running_mean=torch.randn(channels), running_var=torch.rand(channels) + 0.5)
    if affine:
        state.update(weight=nn.Parameter(torch.randn(channels)), bias=nn.Parameter(torch.randn(channels)))
    return state


def trace(model, *shape):
    return graphnn.trace(model, (torch.randn(*shape),))


def x(*shape):
    torch.manual_seed(0)
    return torch.randn(*shape)


# ------------------------------------------------------------------ BatchNorm
BATCH_NORMS = {
    "1d-2d-input": (lambda: nn.BatchNorm1d(4), (2, 4)),
    "1d-3d-input": (lambda: nn.BatchNorm1d(4, eps=1e-3), (2, 4, 5)),
    "2d": (lambda: nn.BatchNorm2d(4), (2, 4, 3, 3)),
    "3d": (lambda: nn.BatchNorm3d(4), (2, 4, 2, 3, 3)),
    "2d-no-affine": (lambda: nn.BatchNorm2d(4, affine=False), (2, 4, 3, 3)),
    "sync": (lambda: nn.SyncBatchNorm(4), (2, 4, 3, 3)),
    "functional": (lambda: Stateful(lambda x, m: F.batch_norm(
        x, m.running_mean, m.running_var, m.weight, m.bias, training=False, eps=1e-3), **channel_state()),
        (2, 4, 3, 3)),
    "functional-no-affine": (lambda: Stateful(lambda x, m: F.batch_norm(
        x, m.running_mean, m.running_var), **channel_state(affine=False)), (2, 4, 5)),
    "functional-weight-only": (lambda: Stateful(lambda x, m: F.batch_norm(
        x, m.running_mean, m.running_var, m.weight), **channel_state()), (2, 4, 5)),
}


@pytest.mark.parametrize("case", BATCH_NORMS)
@pytest.mark.parametrize("optimize", [False, True])
def test_batch_norm(case, optimize):
    make, shape = BATCH_NORMS[case]
    models = export_checked(randomized(make()), x(*shape), optimize=optimize)
    expected = ["BatchNormalization"]  # nothing to fold into: one node either way
    assert all(onnx_ops(m) == expected for m in models.values())


def test_lazy_batch_norm_is_batch_norm_after_first_forward():
    model = nn.LazyBatchNorm2d()
    model(x(2, 4, 3, 3))
    assert type(model) is nn.BatchNorm2d
    models = export_checked(randomized(model), x(2, 4, 3, 3), optimize=False)
    assert onnx_ops(models[18]) == ["BatchNormalization"]


def test_lazy_batch_norm_before_first_forward_is_materialized_from_the_example():
    model = nn.LazyBatchNorm2d()
    models = export_checked(model, x(2, 4, 3, 3), optimize=False)
    assert type(model) is nn.BatchNorm2d and model.num_features == 4
    assert onnx_ops(models[18]) == ["BatchNormalization"]


# normalised by the statistics of the batch they are given, even in eval; (N, C) inputs
# run at one batch size, as torch refuses a batch of 1 there
BATCH_STATISTICS = {
    "1d-3d-input": (lambda: nn.BatchNorm1d(4, track_running_stats=False), (2, 4, 5), True),
    "1d-2d-input": (lambda: nn.BatchNorm1d(4, track_running_stats=False), (3, 4), False),
    "2d": (lambda: nn.BatchNorm2d(4, track_running_stats=False), (2, 4, 3, 3), True),
    "3d-no-affine": (lambda: nn.BatchNorm3d(4, affine=False, track_running_stats=False),
                     (2, 4, 2, 2, 3), True),
    "functional-training": (lambda: Stateful(lambda x, m: F.batch_norm(
        x, m.running_mean, m.running_var, m.weight, m.bias, training=True), **channel_state()),
        (2, 4, 3, 3), True),
    "functional-no-stats": (lambda: Wrap(lambda x: F.batch_norm(x, None, None, training=True, eps=0.1)),
                            (2, 4, 5), True),
}


@pytest.mark.parametrize("case", BATCH_STATISTICS)
def test_batch_norm_with_batch_statistics_is_decomposed(case):
    make, shape, dynamic = BATCH_STATISTICS[case]
    models = export_checked(randomized(make()), x(*shape), dynamic_batch=dynamic)
    for model in models.values():
        assert DECOMPOSED <= set(onnx_ops(model)) and "BatchNormalization" not in onnx_ops(model)


def test_functional_batch_norm_refuses_statistics_computed_in_the_graph():
    model = Wrap(lambda x, mean, var: F.batch_norm(x, mean, var))
    with pytest.raises(UnsupportedError, match="running_mean computed in forward"):
        graphnn.trace(model, (x(2, 4), torch.zeros(4), torch.ones(4)))


# affine tensors computed in forward: a Mul / Add along the channels after the norm
COMPUTED_AFFINE = {
    # timm's ScaledStdConv2d: the conv weight standardised by batch statistics over itself
    "scaled-std-weight": (lambda x, m: F.batch_norm(x, None, None, weight=m.weight * 0.5, training=True,
                                                    momentum=0.0, eps=1e-6), (1, 4, 27), False),
    "running-stats-bias": (lambda x, m: F.batch_norm(x, m.running_mean, m.running_var, m.weight,
                                                     m.bias.exp()), (2, 4, 3, 3), True),
    "both-2d-input": (lambda x, m: F.batch_norm(x, None, None, m.weight + 1, m.bias * 2, training=True),
                      (3, 4), False),
    "instance": (lambda x, m: F.instance_norm(x, weight=m.weight.abs(), bias=m.bias - 1), (2, 4, 5), True),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("case", COMPUTED_AFFINE)
def test_norm_with_an_affine_tensor_computed_in_forward(case, frontend):
    fn, shape, dynamic = COMPUTED_AFFINE[case]
    models = export_checked(randomized(Stateful(fn, **channel_state())), x(*shape), dynamic_batch=dynamic,
                            frontend=frontend)
    assert {"Mul", "Add"} & set(onnx_ops(models[18])[-2:])


def test_functional_batch_norm_in_eval_without_statistics_is_refused():
    with pytest.raises(UnsupportedError, match="without running statistics"):
        trace(Wrap(lambda x: F.batch_norm(x, None, None)), 2, 4)


@pytest.mark.parametrize("model, shape, message", [
    (nn.BatchNorm2d(32), (1, 64, 4, 4), "expects 32 channels, gets 64"),
    (nn.BatchNorm1d(32, track_running_stats=False), (2, 64), "expects 32 channels, gets 64"),
    (nn.BatchNorm2d(4), (1, 4, 5), "expects a 4-d input, gets 3-d"),
    (nn.BatchNorm1d(4), (1, 4, 5, 5), "expects a 2-d or 3-d input, gets 4-d"),
])
def test_batch_norm_shape_errors(model, shape, message):
    with pytest.raises(ShapeError, match=message):
        trace(model, *shape)


# --------------------------------------------------------------- InstanceNorm
INSTANCE_NORMS = {
    "1d": (lambda: nn.InstanceNorm1d(4), (2, 4, 5), ["InstanceNormalization"]),
    "2d-affine": (lambda: nn.InstanceNorm2d(4, affine=True, eps=1e-3), (2, 4, 3, 3),
                  ["InstanceNormalization"]),
    "3d": (lambda: nn.InstanceNorm3d(4), (2, 4, 2, 3, 3), ["InstanceNormalization"]),
    "functional": (lambda: Stateful(lambda x, m: F.instance_norm(x, weight=m.weight, bias=m.bias),
                                    **channel_state(stats=False)), (2, 4, 5), ["InstanceNormalization"]),
    "functional-no-affine": (lambda: Wrap(lambda x: F.instance_norm(x, eps=0.1)), (2, 4, 3, 3),
                             ["InstanceNormalization"]),
    # running statistics in eval: the same per-channel op as BatchNorm, one BatchNormalization
    "2d-tracked": (lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True), (2, 4, 3, 3),
                   ["BatchNormalization"]),
    "1d-tracked-no-affine": (lambda: nn.InstanceNorm1d(4, track_running_stats=True), (2, 4, 5),
                             ["BatchNormalization"]),
    "functional-tracked": (lambda: Stateful(lambda x, m: F.instance_norm(
        x, m.running_mean, m.running_var, m.weight, m.bias, use_input_stats=False), **channel_state()),
        (2, 4, 5), ["BatchNormalization"]),
}


@pytest.mark.parametrize("case", INSTANCE_NORMS)
def test_instance_norm(case):
    make, shape, ops = INSTANCE_NORMS[case]
    models = export_checked(randomized(make()), x(*shape))
    assert all(onnx_ops(m) == ops for m in models.values())


def test_instance_norm_with_running_stats_lowers_to_batch_normalization_unoptimized():
    model = randomized(nn.InstanceNorm2d(4, affine=True, track_running_stats=True))
    models = export_checked(model, x(2, 4, 3, 3), optimize=False)
    assert onnx_ops(models[18]) == ["BatchNormalization"]


def test_instance_norm_unbatched_input_is_refused():
    with pytest.raises(UnsupportedError, match="unbatched"):
        trace(nn.InstanceNorm1d(4), 4, 5)


@pytest.mark.parametrize("model, shape, message", [
    (nn.InstanceNorm2d(8, affine=True), (1, 4, 3, 3), "expects 8 channels, gets 4"),
    (nn.InstanceNorm2d(4), (1, 4, 3, 3, 3), "expects a 4-d input, gets 5-d"),
])
def test_instance_norm_shape_errors(model, shape, message):
    with pytest.raises(ShapeError, match=message):
        trace(model, *shape)


# ------------------------------------------------------------------ LayerNorm
LAYER_NORMS = {
    "last-dim": (lambda: nn.LayerNorm(8), (2, 5, 8)),
    "last-two-dims": (lambda: nn.LayerNorm((3, 4), eps=1e-3), (2, 5, 3, 4)),
    "2d-input": (lambda: nn.LayerNorm(8), (2, 8)),
    "no-affine": (lambda: nn.LayerNorm(8, elementwise_affine=False), (2, 5, 8)),
    "no-bias": (lambda: nn.LayerNorm(8, bias=False), (2, 5, 8)),
    "functional": (lambda: Stateful(lambda x, m: F.layer_norm(x, (8,), m.weight, m.bias, eps=1e-3),
                                    **channel_state(8, stats=False)), (2, 5, 8)),
    "functional-no-affine": (lambda: Wrap(lambda x: F.layer_norm(x, [3, 8])), (2, 3, 8)),
    "functional-traced-shape": (lambda: Wrap(lambda x: F.layer_norm(x, x.shape[-1:])), (2, 5, 8)),
    "torch-layer-norm": (lambda: Stateful(lambda x, m: torch.layer_norm(x, [8], m.weight),
                                          **channel_state(8, stats=False)), (2, 5, 8)),
}


@pytest.mark.parametrize("case", LAYER_NORMS)
def test_layer_norm(case):
    make, shape = LAYER_NORMS[case]
    models = export_checked(randomized(make()), x(*shape), opsets=(13, 16, 17, 18))
    assert onnx_ops(models[17]) == onnx_ops(models[18]) == ["LayerNormalization"]
    for opset in (13, 16):
        assert DECOMPOSED <= set(onnx_ops(models[opset]))
        assert "LayerNormalization" not in onnx_ops(models[opset])


@pytest.mark.parametrize("model, shape, message", [
    (nn.LayerNorm(10), (2, 12), r"expects the last dims to be \(10,\), gets \(12,\)"),
    (nn.LayerNorm((3, 4)), (2, 4, 3), r"expects the last dims to be \(3, 4\), gets \(4, 3\)"),
])
def test_layer_norm_shape_errors(model, shape, message):
    with pytest.raises(ShapeError, match=message):
        trace(model, *shape)


# ------------------------------------------------------------------ GroupNorm
GROUP_NORMS = {
    "4d": (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    "3d-one-group": (lambda: nn.GroupNorm(1, 4, eps=1e-3), (2, 4, 5)),
    "group-per-channel-no-affine": (lambda: nn.GroupNorm(4, 4, affine=False), (2, 4, 3, 3)),
    "2d-input": (lambda: nn.GroupNorm(3, 6), (2, 6)),
    "5d": (lambda: nn.GroupNorm(2, 4), (2, 4, 2, 2, 3)),
    "functional": (lambda: Stateful(lambda x, m: F.group_norm(x, 2, m.weight, m.bias, eps=1e-3),
                                    **channel_state(stats=False)), (2, 4, 3, 3)),
    "functional-no-affine": (lambda: Wrap(lambda x: F.group_norm(x, 2)), (2, 4, 5)),
    "torch-group-norm": (lambda: Stateful(lambda x, m: torch.group_norm(x, 2, m.weight, m.bias),
                                          **channel_state(stats=False)), (2, 4, 5)),
}


@pytest.mark.parametrize("case", GROUP_NORMS)
def test_group_norm(case):
    make, shape = GROUP_NORMS[case]
    models = export_checked(randomized(make()), x(*shape), opsets=(13, 18, 21))
    assert onnx_ops(models[21]) == ["GroupNormalization"]  # per-channel scale from 21
    for opset in (13, 18):
        assert DECOMPOSED | {"Reshape"} <= set(onnx_ops(models[opset]))
        assert "GroupNormalization" not in onnx_ops(models[opset])


@pytest.mark.parametrize("model, shape, message", [
    (nn.GroupNorm(2, 8), (1, 4, 3, 3), "expects 8 channels, gets 4"),
    (Wrap(lambda x: F.group_norm(x, 3)), (1, 4, 3, 3), "expects channels divisible by 3 groups, gets 4"),
])
def test_group_norm_shape_errors(model, shape, message):
    with pytest.raises(ShapeError, match=message):
        trace(model, *shape)


# -------------------------------------------------------------------- RMSNorm
RMS_NORMS = {
    "last-dim-default-eps": (lambda: nn.RMSNorm(8), (2, 5, 8)),
    "last-two-dims": (lambda: nn.RMSNorm((3, 4), eps=1e-3), (2, 5, 3, 4)),
    "no-affine": (lambda: nn.RMSNorm(8, elementwise_affine=False), (2, 8)),
    "functional": (lambda: Stateful(lambda x, m: F.rms_norm(x, [8], m.weight, eps=1e-3),
                                    **channel_state(8, stats=False)), (2, 5, 8)),
    "functional-no-affine": (lambda: Wrap(lambda x: F.rms_norm(x, (8,))), (2, 5, 8)),
}


@pytest.mark.parametrize("case", RMS_NORMS)
def test_rms_norm(case):
    make, shape = RMS_NORMS[case]
    models = export_checked(randomized(make()), x(*shape), opsets=(13, 18, 22, 23))
    assert onnx_ops(models[23]) == ["RMSNormalization"]
    for opset in (13, 18, 22):
        assert {"ReduceMean", "Sqrt", "Div"} <= set(onnx_ops(models[opset]))
        assert "RMSNormalization" not in onnx_ops(models[opset])


@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_rms_norm_with_a_weight_computed_in_forward(frontend):
    """timm's RmsNorm passes ``self.weight.float()``: the weight multiplies the normalized x."""
    model = Stateful(lambda x, m: F.rms_norm(x.float(), [8], m.weight.float() * 2, eps=1e-5),
                     **channel_state(8, stats=False))
    export_checked(randomized(model), x(2, 5, 8), frontend=frontend)


def test_rms_norm_shape_error():
    with pytest.raises(ShapeError, match=r"expects the last dims to be \(10,\), gets \(12,\)"):
        trace(nn.RMSNorm(10), 2, 12)


# ---------------------------------------------------------- LocalResponseNorm
LRNS = {  # alpha large enough that the normalisation shows in the output
    "4d": (lambda: nn.LocalResponseNorm(3, alpha=0.5), (2, 6, 3, 3), True),
    "3d": (lambda: nn.LocalResponseNorm(5, alpha=0.3, beta=0.5, k=2.0), (2, 7, 5), True),
    "5d": (lambda: Wrap(lambda x: F.local_response_norm(x, 3, alpha=0.5)), (2, 6, 2, 2, 3), True),
    "even-size-4d": (lambda: nn.LocalResponseNorm(4, alpha=0.5), (2, 6, 3, 3), False),
    "even-size-3d": (lambda: Wrap(lambda x: F.local_response_norm(x, 2, alpha=0.5, k=1.5)), (2, 5, 4), False),
}


@pytest.mark.parametrize("case", LRNS)
def test_local_response_norm(case):
    make, shape, direct = LRNS[case]
    models = export_checked(make(), x(*shape))
    for model in models.values():
        # onnxruntime's LRN takes odd sizes only: even ones are pooled like torch does
        assert ("LRN" in onnx_ops(model)) == direct
        assert ("AveragePool" in onnx_ops(model)) != direct


def test_local_response_norm_needs_spatial_dims():
    message = re.escape("expects an (N, C, ...) input of 3 or more dims, gets 2-d")
    with pytest.raises(ShapeError, match=message):
        trace(nn.LocalResponseNorm(3), 2, 6)


# ---------------------------------------------------------------- F.normalize
@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, -1), (math.inf, 1), (3.0, 2)])
def test_normalize(p, dim):
    inputs = x(2, 4, 3)
    inputs[0, :, 0] = 0.0  # a zero vector: the norm is clamped to eps
    inputs[1, 0, :] = 0.01
    models = export_checked(Wrap(lambda t: F.normalize(t, p=p, dim=dim, eps=0.1)), inputs)
    for model in models.values():
        assert "LpNormalization" not in onnx_ops(model) and onnx_ops(model)[-2:] == ["Max", "Div"]


def test_normalize_default_is_l2_over_dim_1():
    models = export_checked(Wrap(lambda t: F.normalize(t)), x(2, 4, 3))
    assert "ReduceL2" in onnx_ops(models[18])


def test_normalize_p0_is_refused():
    with pytest.raises(UnsupportedError, match="p=0"):
        trace(Wrap(lambda t: F.normalize(t, p=0)), 2, 4)


def test_normalize_dim_out_of_range():
    with pytest.raises(ShapeError, match="has dim=3, out of range for a 3-d input"):
        trace(Wrap(lambda t: F.normalize(t, dim=3)), 2, 4, 3)


class WeightNormed(nn.Module):
    """wav2vec2's positional conv: weight_norm over the kernel dim (dim=2)."""

    def __init__(self, dim):
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(4, 6, 3, padding=1), dim=dim)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("dim", [0, 2])
def test_weight_norm_parametrization_under_export(dim):
    export_checked(WeightNormed(dim), torch.randn(2, 4, 7), frontend="export")


class WeightNormOnTheGraph(nn.Module):
    """torch._weight_norm of a computed tensor: Norm, Div and Mul in the file."""

    def __init__(self, dim):
        super().__init__()
        self.gain = nn.Parameter(torch.rand(4, 1, 1) + 0.5 if dim == 0 else torch.rand(()) + 0.5)
        self.dim = dim

    def forward(self, x):
        return torch._weight_norm(x * 2, self.gain, self.dim)


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("dim", [0, -1])
def test_weight_norm_of_a_computed_tensor(dim, frontend):
    export_checked(WeightNormOnTheGraph(dim), torch.randn(4, 3, 5), frontend=frontend, dynamic_batch=False)
