"""The pytest plugin as a user meets it: a sample project (models/, a pytest.ini, nothing
else but graphnn installed) run by pytest in a subprocess, serially and with -n 2; and
``graphnn.testing.assert_parity`` in a user's own test."""
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn as nn

from graphnn.backend.onnx import registry
from graphnn.ops import opdef
from graphnn.testing import ParityMismatch, assert_parity
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # seconds per test: see tests/conftest.py

pytest_plugins = ["pytester"]  # runpytest_inprocess for the option test

MODELS = {
    "mlp.py": """
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        example_inputs = torch.randn(2, 6)
    """,
    "cnn.py": """
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
        example_inputs = torch.randn(2, 1, 6, 6)
    """,
    "broken.py": """
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(6, 8)
                self.act = nn.Softsign()
                self.out = nn.Linear(8, 3)

            def forward(self, x):
                return self.out(self.act(self.fc(x)))


        model = Net()
        example_inputs = torch.randn(2, 6)
    """,
}

# Registered only in the sample project: Softsign lowered as Tanh at graphnn's default opset,
# so broken.py's ONNX is wrong and the others are untouched.
BROKEN_LOWERING = """
    from graphnn.backend.onnx import DEFAULT_OPSET
    from graphnn.backend.onnx.registry import lowers
    from graphnn.ops.activation import SOFTSIGN


    @lowers(SOFTSIGN, since=DEFAULT_OPSET)
    def broken_softsign(ctx, node):
        ctx.add1("Tanh", ctx.inputs(node), ctx.output(node))
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def run_pytest(project, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=project,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def project(tmp_path):
    """models/ with two good models and one whose ONNX is wrong, a pytest.ini, a conftest.py."""
    for name, text in MODELS.items():
        write(tmp_path / "models" / name, text)
    write(tmp_path / "conftest.py", BROKEN_LOWERING)
    write(tmp_path / "pytest.ini", "[pytest]\n")
    return tmp_path


def assert_broken_report(text):
    assert "broken.py (model): parity FAILED on cpu" in text
    assert "of elements out of tolerance ... MISMATCH" in text
    assert "first divergent layer: act (broken.py:13), nn.Softsign" in text


def test_one_item_per_model_file_and_a_readable_failure(project):
    proc = run_pytest(project, "--graphnn-models", "models/", "-v")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "models/cnn.py::cnn PASSED" in out and "models/mlp.py::mlp PASSED" in out
    assert "models/broken.py::broken FAILED" in out
    assert "1 failed, 2 passed" in out
    assert_broken_report(out)
    assert "Traceback" not in out and "def runtest" not in out  # the report, not graphnn's code


def readme_ci_lines():
    """The README's "Parity in CI" lines: the pytest.ini a user writes and the CI command."""
    with open(os.path.join(ROOT, "README.md")) as handle:
        section = handle.read().split("## Parity in CI\n", 1)[1].split("\n## ", 1)[0]
    ini = re.search(r"```ini\n(.+?)```", section, re.S).group(1)
    command = re.search(r"```text\n(pytest .+?)\n```", section).group(1)
    return ini, command.split()


def test_readme_lines_under_xdist_with_junit_xml(project):
    ini, command = readme_ci_lines()
    write(project / "pytest.ini", ini)
    assert command[:3] == ["pytest", "-n", "auto"] and "--junitxml=parity.xml" in command
    proc = run_pytest(project, "-n", "2", *command[3:])  # two workers, not one per core of this machine
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout and "created: 2/2 workers" in proc.stdout
    cases = {case.get("name"): case for case in ET.parse(project / "parity.xml").getroot().iter("testcase")}
    assert sorted(cases) == ["broken", "cnn", "mlp"]
    failure = cases["broken"].find("failure")
    assert failure is not None and cases["cnn"].find("failure") is None
    assert_broken_report(failure.text)
    properties = {p.get("name"): p.get("value") for p in cases["cnn"].iter("property")}
    assert float(properties["graphnn_max_abs_error"]) < 1e-4 and properties["graphnn_device"] == "cpu"


def test_what_is_collected(project):
    """The ini option when pytest is given no paths; --graphnn-models always; conftest.py and
    _private.py are not models; collection imports no model (and no torch)."""
    write(project / "models" / "_helpers.py", "raise RuntimeError('not a model')\n")
    write(project / "models" / "deep" / "rnn.py", "raise RuntimeError('imported at collection')\n")
    write(project / "tests" / "test_unit.py", "def test_unit():\n    assert True\n")
    write(project / "pytest.ini", "[pytest]\ngraphnn_models = models\n")
    (project / "conftest.py").unlink()  # it imports graphnn (and torch): seconds per run, not needed here

    def collected(*args):
        proc = run_pytest(project, "--collect-only", "-q", *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return sorted(line for line in proc.stdout.splitlines() if "::" in line)

    every = ["models/broken.py::broken", "models/cnn.py::cnn", "models/deep/rnn.py::rnn", "models/mlp.py::mlp",
             "tests/test_unit.py::test_unit"]
    assert collected() == every
    assert collected("tests") == ["tests/test_unit.py::test_unit"]  # explicit paths: only those
    assert collected("models") == every[:4]  # the ini's folder named: the models alone
    assert collected("tests", "--graphnn-models", "models/cnn.py") == ["models/cnn.py::cnn",
                                                                        "tests/test_unit.py::test_unit"]
    assert collected("models/mlp.py") == ["models/mlp.py::mlp"]  # a model file named: an item, not a module


def test_missing_model_folder_is_a_usage_error(project):
    (project / "conftest.py").unlink()
    proc = run_pytest(project, "--graphnn-models", "nowhere")
    assert proc.returncode == 4
    assert "--graphnn-models / graphnn_models:" in proc.stderr and "nowhere does not exist" in proc.stderr


def test_plugin_costs_nothing_without_model_folders(tmp_path):
    """It loads in every pytest run of the environment; without model folders it imports no torch."""
    write(tmp_path / "test_light.py", """
        import sys


        def test_light(request):
            assert request.config.pluginmanager.hasplugin("graphnn")
            assert "torch" not in sys.modules and "onnxruntime" not in sys.modules
    """)
    proc = run_pytest(tmp_path, "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.act = nn.Sigmoid()
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.act(self.fc(x)))


def test_assert_parity_returns_the_report():
    torch.manual_seed(0)
    report = assert_parity(Net(), (torch.randn(2, 6),), opset=13, runs=2)
    assert report.ok and len(report.runs) == 6  # batch 2, 1, 3; two draws each


def test_assert_parity_fails_with_the_report_and_the_layer(monkeypatch):
    def tanh(ctx, node):
        ctx.add1("Tanh", ctx.inputs(node), ctx.output(node))

    monkeypatch.setitem(registry._LOWERINGS, opdef("sigmoid"), {1: tanh})
    torch.manual_seed(0)
    with pytest.raises(ParityMismatch) as caught:
        assert_parity(Net(), (torch.randn(2, 6),))
    message = str(caught.value)
    assert message.startswith("Net: parity FAILED on cpu (atol 0.0001, rtol 0.0001): max abs error")
    assert "batch 1: output [1x3] max abs" in message and "of elements out of tolerance ... MISMATCH" in message
    assert "first divergent layer: act (test_pytest_plugin.py:" in message
    assert isinstance(caught.value, AssertionError) and not caught.value.report.ok


def test_item_options_from_the_ini_file_and_graphnn_errors(pytester):
    """In process (no interpreter start): graphnn_opset reaches every item, a GraphnnError is
    its one line, and a bad option value stops the run before anything is collected."""
    pytester.makeini("[pytest]\ngraphnn_models = models\ngraphnn_opset = 12\n")
    write(pytester.path / "models" / "mlp.py", MODELS["mlp.py"])
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["mlp.py: error: opset 12 is not supported: choose 13..*"])
    result.stdout.no_fnmatch_line("*Traceback*")

    pytester.makeini("[pytest]\ngraphnn_models = models\ngraphnn_device = gpu\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*graphnn_device = 'gpu': choose one of cpu, cuda, auto*"])
