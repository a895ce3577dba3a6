"""Parity of dynamically quantized layers (torch.ao.quantization.quantize_dynamic).

The ONNX graph quantizes the input the way the active torch engine does (x86/fbgemm:
uint8 range halved to [0, 127]; qnnpack: the full range, i.e. DynamicQuantizeLinear), so
on x86 the integers agree and parity holds at graphnn's float tolerance. qnnpack's own
requantization differs from onnxruntime's in rare rounding ties (measured up to 0.4% of
the output's largest magnitude), hence a quantization tolerance there."""
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
import torch.nn as nn
from torch.ao.quantization import PerChannelMinMaxObserver, PlaceholderObserver, QConfig

import graphnn
from graphnn.backend.onnx import to_onnx
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import export_checked, onnx_ops

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

QUANT_RTOL = 1e-2  # one uint8 step flipped by a rounding tie moves an output by < 1% of its max
REDUCED_RANGE_QUANTIZE = ["ReduceMin", "Min", "ReduceMax", "Max", "Sub", "Div", "Max", "Div", "Neg",
                          "Round", "Cast", "QuantizeLinear"]
RESCALE = ["MatMulInteger", "Mul", "Cast", "Mul"]


@pytest.fixture
def engine():
    """Set torch's quantized engine for one test, restoring it after."""
    before = torch.backends.quantized.engine

    def use(name):
        torch.backends.quantized.engine = name

    yield use
    torch.backends.quantized.engine = before


def quantized(model, qconfig_spec=None, dtype=torch.qint8):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model.eval(), qconfig_spec, dtype=dtype)


def test_per_tensor_linear_on_x86_quantizes_the_input_to_half_the_uint8_range(engine):
    engine("x86")
    torch.manual_seed(0)
    model = quantized(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)))
    models = export_checked(model, torch.randn(4, 64))
    one_layer = REDUCED_RANGE_QUANTIZE + RESCALE + ["Add"]
    assert onnx_ops(models[18]) == one_layer + ["Relu"] + one_layer
    assert onnx_ops(models[13]) == onnx_ops(models[18])


def test_per_channel_weights_without_bias_on_a_3d_input(engine):
    engine("x86")
    torch.manual_seed(0)
    spec = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
    model = quantized(nn.Sequential(nn.Linear(16, 8, bias=False)), spec)
    assert model[0].weight().qscheme() == torch.per_channel_affine
    models = export_checked(model, torch.randn(2, 5, 16))
    assert onnx_ops(models[18]) == REDUCED_RANGE_QUANTIZE + RESCALE
    scales = next(i for i in models[18].graph.initializer if i.name == "0.weight_scale")
    assert list(scales.dims) == [8]


def test_per_channel_affine_weights_with_nonzero_zero_points(engine):
    engine("x86")
    torch.manual_seed(0)
    qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=torch.quint8, is_dynamic=True),
                      weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_affine))
    model = quantized(nn.Sequential(nn.Linear(32, 8)), {nn.Linear: qconfig})
    assert model[0].weight().q_per_channel_zero_points().abs().sum() > 0
    models = export_checked(model, torch.randn(4, 32))
    assert onnx_ops(models[18]) == REDUCED_RANGE_QUANTIZE + RESCALE + ["Add"]


def test_an_all_zero_input_gives_the_bias(engine):
    """Its range is 0: torch picks scale 0.1; the graph keeps its scale positive (0 / 0 would make
    the zero point NaN, whose cast to uint8 is undefined), and both quantize the input to 0s."""
    engine("x86")
    torch.manual_seed(0)
    model = quantized(nn.Sequential(nn.Linear(8, 3)))
    x = torch.zeros(2, 8)
    onnx_model = to_onnx(graphnn.optimize(graphnn.trace(model, (x,))), 18)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    expected = model(x).detach().numpy()
    assert np.array_equal(actual, expected) and np.allclose(expected, model[0].bias().detach().numpy())


def test_qnnpack_uses_the_full_range_dynamic_quantize_linear(engine):
    engine("qnnpack")
    torch.manual_seed(0)
    model = quantized(nn.Sequential(nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 4)))
    models = export_checked(model, torch.randn(3, 32), rtol=QUANT_RTOL)
    one_layer = ["DynamicQuantizeLinear"] + RESCALE + ["Add"]
    assert onnx_ops(models[18]) == one_layer + ["Tanh"] + one_layer


def test_layers_saved_before_version_4_do_not_reduce_the_range(engine):
    """torch only asks old (version < 4) layers for the full range; so does the ONNX graph."""
    engine("x86")
    torch.manual_seed(0)
    model = quantized(nn.Sequential(nn.Linear(24, 6)))
    model[0].version = 3
    models = export_checked(model, torch.randn(2, 24))
    assert onnx_ops(models[18]) == ["DynamicQuantizeLinear"] + RESCALE + ["Add"]


def test_quantized_outputs_differ_from_the_float_model_but_not_from_torch(engine):
    """The graph computes torch's quantized numbers, not the float model's."""
    engine("x86")
    torch.manual_seed(0)
    float_model = nn.Sequential(nn.Linear(64, 32))
    model = quantized(float_model)
    x = torch.randn(4, 64)
    onnx_model = to_onnx(graphnn.optimize(graphnn.trace(model, (x,))), 18)
    assert graphnn.check_parity(model, (x,), onnx_model).ok
    assert not graphnn.check_parity(float_model, (x,), onnx_model, atol=1e-5, rtol=1e-5).ok


def test_float16_dynamic_linear_is_a_float_linear_on_rounded_weights():
    torch.manual_seed(0)
    model = quantized(nn.Sequential(nn.Linear(12, 5)), {nn.Linear}, dtype=torch.float16)
    models = export_checked(model, torch.randn(3, 12))
    assert onnx_ops(models[18]) == ["Gemm"]


def test_wrong_input_features_name_the_quantized_layer():
    model = quantized(nn.Sequential(nn.Linear(8, 4)))
    with pytest.raises(ShapeError, match="expects 8 input features, gets 6"):
        graphnn.trace(model, torch.randn(2, 6))


def test_quantized_lstm_is_refused_by_its_own_class_name():
    model = quantized(nn.Sequential(nn.LSTM(4, 8)))
    with pytest.raises(UnsupportedError, match=r"layer torch\.ao\.nn\.quantized\.dynamic\.LSTM is not supported"):
        graphnn.trace(model, torch.randn(5, 2, 4))



class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.lstm(x)[0])


def test_quantizing_only_the_linear_layers_keeps_an_lstm_float(engine):
    """The way around the refused quantized LSTM: quantize_dynamic(model, {nn.Linear})."""
    engine("x86")
    torch.manual_seed(0)
    model = quantized(Tagger(), {nn.Linear})
    assert type(model.lstm) is nn.LSTM
    models = export_checked(model, torch.randn(2, 5, 4))
    ops = onnx_ops(models[18])
    assert ops.count("LSTM") == 1 and ops.count("MatMulInteger") == 1
