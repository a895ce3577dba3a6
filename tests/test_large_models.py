"""Models over 2 GB keep their weights in external data. The threshold is lowered here so
a small model takes the same path (writing 2 GB in a test would take minutes)."""
import os

import onnx
import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

import graphnn
from cli.main import main
from graphnn.backend.onnx import files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def tiny_limit(monkeypatch):
    monkeypatch.setattr(files, "LARGE_BYTES", 1000)


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))


def test_large_model_is_written_with_external_data_and_checks(tiny_limit, tmp_path):
    out = tmp_path / "big.onnx"
    result = graphnn.export(model(), torch.randn(2, 64), str(out))
    assert result.report.ok
    assert result.written == [str(tmp_path / "big.onnx.data"), str(out)]
    assert sorted(os.listdir(tmp_path)) == ["big.onnx", "big.onnx.data"]
    assert os.path.getsize(out) < 2000 < os.path.getsize(tmp_path / "big.onnx.data")
    onnx.checker.check_model(str(out), full_check=True)
    loaded = onnx.load(str(out))
    assert onnx.numpy_helper.to_array(loaded.graph.initializer[0]).shape == (64, 64)


def test_cli_export_and_run_with_external_data(tiny_limit, tmp_path):
    out = tmp_path / "big.onnx"
    runner = CliRunner()
    result = runner.invoke(main, ["export", os.path.join(ROOT, "fixtures", "simple_cnn.py"), str(out)])
    assert result.exit_code == 0, result.output
    assert "+ big.onnx.data" in result.output and "parity ok" in result.output
    result = runner.invoke(main, ["run", str(out), "--repeat", "1"])
    assert result.exit_code == 0 and "output: 1x10 float32" in result.output


def test_small_models_stay_one_file(tmp_path):
    out = tmp_path / "small.onnx"
    assert graphnn.export(model(), torch.randn(2, 64), str(out)).written == [str(out)]
    assert os.listdir(tmp_path) == ["small.onnx"]
