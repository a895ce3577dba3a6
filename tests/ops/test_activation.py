"""Parity of every torch.nn activation, its functional / torch.* / Tensor-method
spellings, and the choice between a direct ONNX op and its decomposition by opset."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops


def _input(*shape, scale=3.0):
    """randn * 3 reaches past every threshold; exact points such as 0, +-0.5, +-1, 6
    and 20 are planted so ties take the same branch as torch."""
    torch.manual_seed(0)
    x = torch.randn(*shape) * scale
    flat = x.view(-1)
    points = torch.tensor([0.0, 0.5, -0.5, 1.0, -1.0, 6.0, 20.0, 25.0, -30.0])
    flat[: points.numel()] = points[: flat.numel()]
    return x


LAYERS = [
    nn.ReLU(), nn.ReLU(inplace=True), nn.ReLU6(), nn.LeakyReLU(), nn.LeakyReLU(0.2, inplace=True),
    nn.RReLU(), nn.RReLU(0.1, 0.4), nn.ELU(), nn.ELU(alpha=0.7), nn.SELU(), nn.CELU(), nn.CELU(alpha=2.0),
    nn.GELU(), nn.GELU(approximate="tanh"), nn.Sigmoid(), nn.Tanh(), nn.SiLU(), nn.Mish(),
    nn.Softplus(), nn.Softplus(beta=2.0, threshold=3.0), nn.Softplus(beta=1.0, threshold=1.0),
    nn.Softsign(), nn.Hardtanh(), nn.Hardtanh(-2.0, 0.5), nn.Hardsigmoid(), nn.Hardswish(),
    nn.LogSigmoid(), nn.Tanhshrink(), nn.Softshrink(), nn.Softshrink(1.0), nn.Hardshrink(),
    nn.Hardshrink(1.0), nn.Threshold(0.5, -2.0), nn.Softmax(dim=1), nn.Softmax(dim=-1),
    nn.LogSoftmax(dim=1), nn.Softmin(dim=2), nn.Softmax2d(), nn.GLU(), nn.GLU(dim=1),
]


def _on_a_copy(fn, *modules):
    """In-place spellings would overwrite the input before parity feeds it to onnxruntime."""
    return Wrap(lambda x: fn(x.clone()), *modules)


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_layer_parity(layer):
    model = _on_a_copy(layer, layer) if getattr(layer, "inplace", False) else layer
    export_checked(model, _input(2, 4, 6, 6))


FUNCTIONS = {
    "F.relu_": lambda x: F.relu_(x),
    "F.relu6": lambda x: F.relu6(x, inplace=True),
    "F.hardtanh_": lambda x: F.hardtanh_(x, -0.5, 2.0),
    "F.leaky_relu": lambda x: F.leaky_relu(x, 0.3),
    "F.leaky_relu_": lambda x: F.leaky_relu_(x, 0.3),
    "F.rrelu": lambda x: F.rrelu(x, 0.2, 0.3),
    "torch.rrelu_": lambda x: torch.rrelu_(x, 0.2, 0.3),
    "F.elu": lambda x: F.elu(x, 0.5, inplace=True),
    "F.elu_": lambda x: F.elu_(x, 0.5),
    "torch.selu": lambda x: torch.selu(x),
    "F.selu_": lambda x: F.selu_(x),
    "torch.celu": lambda x: torch.celu(x, 1.5),
    "F.celu_": lambda x: F.celu_(x, 1.5),
    "F.gelu": lambda x: F.gelu(x, approximate="tanh"),
    "torch.sigmoid": lambda x: torch.sigmoid(x),
    "F.sigmoid": lambda x: F.sigmoid(x),
    "x.sigmoid_": lambda x: x.sigmoid_(),
    "torch.tanh_": lambda x: torch.tanh_(x),
    "x.tanh": lambda x: x.tanh(),
    "F.silu": lambda x: F.silu(x, inplace=True),
    "F.mish": lambda x: F.mish(x),
    "F.softplus": lambda x: F.softplus(x, beta=0.5, threshold=2.0),
    "F.softsign": lambda x: F.softsign(x),
    "F.hardsigmoid": lambda x: F.hardsigmoid(x, inplace=True),
    "F.hardswish": lambda x: F.hardswish(x),
    "F.logsigmoid": lambda x: F.logsigmoid(x),
    "F.tanhshrink": lambda x: F.tanhshrink(x),
    "F.softshrink": lambda x: F.softshrink(x, 0.7),
    "x.hardshrink": lambda x: x.hardshrink(0.7),
    "torch.threshold": lambda x: torch.threshold(x, 1.0, 7.0),
    "F.threshold_": lambda x: F.threshold_(x, -1.0, 3.0),
    "torch.softmax": lambda x: torch.softmax(x, -1),
    "x.softmax": lambda x: x.softmax(dim=2),
    "x.log_softmax": lambda x: x.log_softmax(1),
    "torch.log_softmax": lambda x: torch.log_softmax(x, dim=0),
    "F.softmin": lambda x: F.softmin(x, dim=-2),
    "F.glu": lambda x: F.glu(x, dim=-2),
}


@pytest.mark.parametrize("fn", FUNCTIONS.values(), ids=FUNCTIONS.keys())
def test_function_parity(fn):
    export_checked(_on_a_copy(fn), _input(2, 4, 6))


def test_spellings_share_one_op():
    x = _input(2, 4)
    relu6 = nn.ReLU6()
    graph = graphnn.trace(Wrap(lambda x: F.relu6(x) + relu6(x) + F.hardtanh(x, 0.0, 6.0), relu6), (x,))
    assert graph.count("hardtanh") == 3
    graph = graphnn.trace(Wrap(lambda x: F.rrelu(x) + x.sigmoid_() + torch.sigmoid(x)), (x,))
    assert sorted(n.op for n in graph if n.op != "add") == ["leaky_relu", "sigmoid", "sigmoid"]


def test_large_inputs_stay_finite():
    x = torch.tensor([[-200.0, -90.0, -30.0, 0.0, 30.0, 90.0, 200.0]]).repeat(2, 1)
    for layer in (nn.Softplus(), nn.Softplus(beta=2.0), nn.LogSigmoid(), nn.Mish(), nn.SiLU()):
        export_checked(layer, x, opsets=(13, 18))


@pytest.mark.parametrize("channels", [1, 4])
@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 5), (2, 4, 3, 3)], ids=str)
def test_prelu(channels, shape):
    torch.manual_seed(0)
    layer = nn.PReLU(channels)
    nn.init.uniform_(layer.weight, -1.0, 1.0)  # distinct per-channel slopes catch a wrong axis
    export_checked(layer, _input(*shape))
    export_checked(Wrap(lambda x: F.prelu(x, layer.weight), layer), _input(*shape))


def test_prelu_method_and_slope_count_mismatch():
    weight = torch.linspace(-1.0, 1.0, 3)
    export_checked(Wrap(lambda x: x.prelu(weight)), _input(2, 3, 4))
    with pytest.raises(ShapeError, match="expects 1 or 5 slopes"):
        graphnn.trace(nn.PReLU(3), (torch.randn(2, 5, 4),))


@pytest.mark.parametrize("make, direct, opset, decomposed", [
    (lambda: nn.GELU(), "Gelu", 20, {"Erf"}),
    (lambda: nn.GELU(approximate="tanh"), "Gelu", 20, {"Tanh"}),
    (lambda: nn.Mish(), "Mish", 18, {"Softplus", "Tanh"}),
    (lambda: nn.Hardswish(), "HardSwish", 14, {"HardSigmoid"}),
], ids=["gelu", "gelu-tanh", "mish", "hardswish"])
def test_direct_op_from_its_opset(make, direct, opset, decomposed):
    x = _input(2, 3, 5)
    direct_model = export_checked(make(), x, opsets=(opset,))[opset]
    assert onnx_ops(direct_model) == [direct]
    attrs = {a.name: a.s.decode() for a in direct_model.graph.node[0].attribute}
    if direct == "Gelu":
        assert attrs == {"approximate": make().approximate}
    older = export_checked(make(), x, opsets=(13,))[13]
    assert direct not in onnx_ops(older) and decomposed <= set(onnx_ops(older))


@pytest.mark.parametrize("layer, ops", [
    (nn.ReLU6(), ["Clip"]), (nn.Hardsigmoid(), ["HardSigmoid"]), (nn.Softshrink(), ["Shrink"]),
    (nn.Softplus(), ["Softplus"]), (nn.Softplus(beta=2.0), ["Mul", "Softplus", "Div", "Greater", "Where"]),
    (nn.RReLU(), ["LeakyRelu"]), (nn.Softmin(1), ["Neg", "Softmax"]),
], ids=repr)
def test_lowered_ops(layer, ops):
    assert onnx_ops(export_checked(layer, _input(2, 4, 3))[18]) == ops


def test_softmax_last_dim_and_dim1_of_3d_input():
    x = _input(2, 3, 5)
    for dim in (-1, 1):
        model = export_checked(nn.Softmax(dim=dim), x)[18]
        assert [a.i for a in model.graph.node[0].attribute] == [dim % 3]


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_softmax_implicit_dim(shape):
    """dim=None: torch picks 0 for 1-d and 3-d inputs, else 1 (with a deprecation warning)."""
    with pytest.warns(UserWarning, match="Implicit dimension"):
        export_checked(nn.Softmax(), _input(*shape))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        export_checked(Wrap(lambda x: F.log_softmax(x)), _input(*shape))


def test_softmax_dtype_casts_first():
    models = export_checked(Wrap(lambda x: F.softmax(x, 1, dtype=torch.float64)), _input(2, 3, 4))
    assert onnx_ops(models[18]) == ["Cast", "Softmax"]
    export_checked(Wrap(lambda x: x.log_softmax(-1, dtype=torch.float64)), _input(2, 3, 4))


def test_unsupported_arguments():
    x = torch.randn(2, 4)
    with pytest.raises(UnsupportedError, match="dtype"):
        graphnn.trace(Wrap(lambda x: F.softmax(x, 1, dtype=torch.int64)), (x,))
    with pytest.raises(UnsupportedError, match="training=True"):
        graphnn.trace(Wrap(lambda x: F.rrelu(x, training=True)), (x,))
    with pytest.raises(UnsupportedError, match="prelu weight computed in forward"):
        graphnn.trace(Wrap(lambda x, w: F.prelu(x, w)), (x, torch.rand(4)))


def test_shape_errors():
    with pytest.raises(ShapeError, match="expects an even size on dim 1"):
        graphnn.trace(nn.GLU(dim=1), (torch.randn(2, 5),))
    with pytest.raises(ShapeError, match="dim=3, out of range for a 3-d input"):
        graphnn.trace(nn.Softmax(dim=3), (torch.randn(2, 5, 4),))
    with pytest.raises(ShapeError, match="out of range for a 2-d input"):
        graphnn.trace(nn.Softmax2d(), (torch.randn(2, 5),))
