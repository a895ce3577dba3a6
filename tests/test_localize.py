"""A parity failure names the first layer whose output diverges."""
import torch
import torch.nn as nn

import graphnn
from graphnn.backend.onnx import registry
from graphnn.ops import opdef


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.act = nn.Sigmoid()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        x = self.pool(self.act(self.conv(x)))
        return self.fc(x.flatten(1))


def break_lowering(monkeypatch, op, wrong_onnx_op):
    """Make ``op`` lower to a different ONNX op, as a lowering bug would."""
    def wrong(ctx, node):
        ctx.add1(wrong_onnx_op, ctx.inputs(node), ctx.output(node))

    monkeypatch.setitem(registry._LOWERINGS, opdef(op), {1: wrong})


def test_broken_layer_is_named(monkeypatch):
    break_lowering(monkeypatch, "sigmoid", "Tanh")
    torch.manual_seed(0)
    report = graphnn.check_parity(Net(), torch.randn(1, 3, 8, 8))
    assert not report.ok
    assert report.diagnosis.startswith("  first divergent layer: act (test_localize.py:")
    assert "nn.Sigmoid" in report.diagnosis
    assert report.diagnosis in report.lines()


def test_export_reports_the_layer_and_writes_nothing(monkeypatch, tmp_path):
    def doubled_gemm(ctx, node):  # right shape, wrong values
        inputs = [ctx.input(node), ctx.param(node, "weight"), ctx.param(node, "bias")]
        ctx.add1("Gemm", inputs, ctx.output(node), transB=1, alpha=2.0)

    monkeypatch.setitem(registry._LOWERINGS, opdef("linear"), {1: doubled_gemm})
    torch.manual_seed(0)
    out = tmp_path / "net.onnx"
    result = graphnn.export(Net(), torch.randn(1, 3, 8, 8), str(out))
    assert not result.ok and not out.exists()
    assert "first divergent layer: fc (test_localize.py:" in result.report.diagnosis


def test_no_diagnosis_when_parity_holds():
    report = graphnn.check_parity(Net(), torch.randn(1, 3, 8, 8))
    assert report.ok and report.diagnosis == ""


def test_a_broken_pass_is_blamed_on_optimization(monkeypatch):
    import importlib

    fold_module = importlib.import_module("graphnn.passes.fold_batchnorm")

    monkeypatch.setattr(fold_module, "fold_into", lambda producer, bn, *rest: None)  # forget the BN
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model[1].running_var.fill_(4.0)
    report = graphnn.check_parity(model, torch.randn(1, 3, 6, 6))
    assert not report.ok
    assert "the unoptimized model matches, so an optimizing pass is at fault" in report.diagnosis


def test_a_broken_functional_op_is_placed_after_the_last_matching_layer(monkeypatch):
    break_lowering(monkeypatch, "exp", "Neg")

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return torch.exp(self.fc(x))

    report = graphnn.check_parity(Functional(), torch.randn(2, 3))
    assert "no torch.nn layer output differs (1 compared); a functional op" in report.diagnosis
    assert "after fc (test_localize.py:" in report.diagnosis


def test_layer_outputs_are_recorded_before_in_place_ops_change_them(monkeypatch):
    break_lowering(monkeypatch, "exp", "Neg")

    class BnThenInPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(3)

        def forward(self, x):
            return torch.exp(torch.relu_(self.bn(x)))

    report = graphnn.check_parity(BnThenInPlace(), torch.randn(4, 3))
    assert "no torch.nn layer output differs (1 compared)" in report.diagnosis


def _amplifier(seed: int) -> nn.Module:
    """Half GELU outputs in groups of two nearly equal values, normalised: GroupNorm turns a
    one-ulp difference before it into percents (the fuzzer's float16 find)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(1, 1, 1), nn.GELU(), nn.GroupNorm(1, 1)).half().eval()


def test_half_rounding_a_layer_amplifies_is_not_blamed_on_the_layer():
    """Where the outputs part at a float16 layer that, exported alone, matches torch on the
    input torch gave it, the report says rounding, not that layer."""
    failed = []
    for seed in range(40):
        report = graphnn.check_parity(_amplifier(seed), torch.randn(1, 1, 2).half())
        if not report.ok:
            failed.append(report.diagnosis)
    assert failed, "no draw amplified float16 rounding past the tolerance"
    assert all("float16 rounding in another order" in d and "nn.GroupNorm" in d for d in failed), failed


def test_a_broken_half_layer_is_still_named(monkeypatch):
    """Exported alone, a wrongly lowered layer is wrong on its torch input too: it is named."""
    break_lowering(monkeypatch, "group_norm", "Neg")
    report = graphnn.check_parity(_amplifier(0), torch.randn(1, 1, 2).half())
    # an nn.Sequential has no forward of the user's: the layer is named by path and type, no line
    assert not report.ok and "first divergent layer: 2, nn.GroupNorm" in report.diagnosis
