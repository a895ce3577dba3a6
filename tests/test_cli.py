"""The CLI as users run it: real subprocesses for exit codes and stderr, CliRunner
for the rest (same code, no interpreter start-up)."""
import os
import re
import shutil
import subprocess

import onnx
import pytest
from click.testing import CliRunner

from graphnn.cli.main import main
from tests.conftest import ROOT, graphnn_cli, invoke

FIXTURES = os.path.join(ROOT, "fixtures")


def fixture(name):
    return os.path.join(FIXTURES, name)


def test_export_simple_cnn_with_parity(tmp_path):
    out = tmp_path / "simple_cnn.onnx"
    proc = graphnn_cli("export", fixture("simple_cnn.py"), str(out))
    assert proc.returncode == 0, proc.stderr
    max_abs = float(re.search(r"max abs error (\S+)", proc.stdout).group(1))
    assert max_abs <= 1e-4
    assert "batch 1:" in proc.stdout and "batch 3:" in proc.stdout
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert "torch.Size" in proc.stderr  # the seed's own prints went to stderr
    assert "Traceback" not in proc.stderr


def test_shape_mismatch_is_one_line_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "bad.onnx"
    proc = graphnn_cli("export", fixture("simple_cnn.py"), str(out), "--input", "1x3x32x32")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"error: fc \(simple_cnn\.py:\d+\) expects 1568 input features, gets 2048 "
                        r"for input 1x3x32x32", last), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and os.listdir(tmp_path) == []


def test_graph_dot_renders_with_graphviz(tmp_path):
    proc = graphnn_cli("graph", fixture("simple_cnn.py"), "--dot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digraph SimpleCNN {")
    assert '"input/x" -> conv1 [label="[batch, 3, 28, 28]"]' in proc.stdout  # edges carry shapes
    dot = shutil.which("dot")
    if dot is None and not os.environ.get("GRAPHNN_REQUIRE_DOT"):
        pytest.skip("Graphviz `dot` is not installed (.ci/run installs it and requires it)")
    assert dot is not None, "GRAPHNN_REQUIRE_DOT is set but Graphviz `dot` is missing"
    svg = subprocess.run([dot, "-Tsvg"], input=proc.stdout, capture_output=True, text=True, check=True)
    assert "<svg" in svg.stdout and "conv1" in svg.stdout


def test_bn_folding_visible_in_exported_file(tmp_path):
    folded, kept = tmp_path / "folded.onnx", tmp_path / "kept.onnx"
    runner = CliRunner()
    result = runner.invoke(main, ["export", fixture("conv_bn_relu.py"), str(folded)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["export", fixture("conv_bn_relu.py"), str(kept), "--no-optimize"])
    assert result.exit_code == 0, result.output
    assert "BatchNormalization" not in [n.op_type for n in onnx.load(str(folded)).graph.node]
    assert [n.op_type for n in onnx.load(str(kept)).graph.node].count("BatchNormalization") == 2


def test_cuda_without_gpu_is_exit_2():
    proc = graphnn_cli("check", fixture("simple_linear.py"), "--device", "cuda")
    if "CUDA GPU" in proc.stderr and proc.returncode == 0:
        pytest.skip("this machine has a usable CUDA GPU")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --device cuda cannot be used")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["graph", "missing.py"], "does not exist"),
    (["export", "fixtures/simple_cnn.py", "o.onnx", "--input", "1x3x"], "bad --input"),
    (["export", "fixtures/simple_cnn.py", "o.onnx", "--opset", "7"], "opset 7 is not supported"),
    (["graph", "fixtures/simple_cnn.py", "--model", "nope"], "--model nope"),
    (["run", "missing.onnx"], "does not exist"),
])
def test_user_errors_exit_2_with_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not os.path.exists(os.path.join(ROOT, "o.onnx"))


def test_parity_failure_exits_1_and_writes_nothing(tmp_path):
    out = tmp_path / "p.onnx"
    result = invoke(["export", fixture("parameter_containers.py"), str(out),
                                       "--atol", "0", "--rtol", "0"])
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.output and not out.exists()


def test_check_and_run(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["check", fixture("simple_linear.py")])
    assert result.exit_code == 0 and "parity ok" in result.output
    out = tmp_path / "lin.onnx"
    assert runner.invoke(main, ["export", fixture("simple_linear.py"), str(out)]).exit_code == 0
    result = runner.invoke(main, ["run", str(out), "--batch", "4", "--repeat", "3"])
    assert result.exit_code == 0, result.output
    assert "output: 4x5 float32" in result.output and "latency on cpu" in result.output


def test_static_export_has_no_symbolic_dims(tmp_path):
    out = tmp_path / "s.onnx"
    result = invoke(["export", fixture("simple_cnn.py"), str(out), "--static"])
    assert result.exit_code == 0, result.output
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 28, 28]
    assert "static shapes" in result.output


def test_graph_table_lists_layers_and_totals():
    result = invoke(["graph", fixture("simple_cnn.py")])
    assert result.exit_code == 0
    assert re.search(r"conv1\s+Conv2d\s+\[batch, 16, 28, 28\]\s+448", result.output)
    assert "Total params: 20,778" in result.output


def test_opset_range_is_honoured(tmp_path):
    out = tmp_path / "o13.onnx"
    result = invoke(["export", fixture("simple_cnn.py"), str(out), "--opset", "13"])
    assert result.exit_code == 0, result.output
    assert onnx.load(str(out)).opset_import[0].version == 13


def test_help_and_version():
    runner = CliRunner()
    assert "export" in runner.invoke(main, ["--help"]).output
    assert runner.invoke(main, ["--version"]).output.startswith("graphnn, version")


def test_written_file_has_usual_permissions(tmp_path):
    import stat

    out = tmp_path / "perm.onnx"
    assert invoke(["export", fixture("simple_linear.py"), str(out)]).exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["perm.onnx"]  # no temp file left behind


def test_unwritable_output_is_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke(["export", fixture("simple_linear.py"), str(blocker / "x.onnx")])
    assert result.exit_code == 2 and "cannot write" in result.output


def test_run_with_npz_and_input_specs(tmp_path):
    import numpy as np

    runner = CliRunner()
    out = tmp_path / "cnn.onnx"
    assert runner.invoke(main, ["export", fixture("simple_cnn.py"), str(out), "--no-parity"]).exit_code == 0
    np.savez(tmp_path / "in.npz", x=np.random.rand(2, 3, 28, 28).astype(np.float32))
    result = runner.invoke(main, ["run", str(out), "--npz", str(tmp_path / "in.npz"), "--repeat", "1"])
    assert result.exit_code == 0 and "output: 2x10 float32" in result.output
    result = runner.invoke(main, ["run", str(out), "--input", "5x3x28x28", "--repeat", "1"])
    assert result.exit_code == 0 and "output: 5x10 float32" in result.output
    np.savez(tmp_path / "bad.npz", y=np.zeros(1))
    result = runner.invoke(main, ["run", str(out), "--npz", str(tmp_path / "bad.npz")])
    assert result.exit_code == 2 and "lacks arrays for inputs x" in result.output
    result = runner.invoke(main, ["run", str(out), "--input", "1x3x28x28", "--input", "1x3"])
    assert result.exit_code == 2 and "2 --input given, the model has 1 inputs" in result.output


def test_run_with_inputs_that_do_not_fit_is_exit_2(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cnn.onnx"
    assert runner.invoke(main, ["export", fixture("simple_cnn.py"), str(out), "--no-parity"]).exit_code == 0
    result = runner.invoke(main, ["run", str(out), "--input", "1x3x32x32"])
    assert result.exit_code == 2 and "onnxruntime cannot run" in result.output


def test_layers_lists_public_spellings():
    result = invoke(["layers"])
    assert result.exit_code == 0
    lines = set(result.output.split())
    assert {"nn.Conv2d", "nn.BatchNorm2d", "torch.nn.functional.relu", "torch.linalg.norm", ".view()"} <= lines
    assert not any("._" in line for line in lines)
