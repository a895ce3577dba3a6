"""graphnn as a tool: `graphnn env` for bug reports, progress on a terminal only, shell completion.

The wheel itself (top-level packages, install outside the checkout, Python 3.11-3.13) is
checked by .ci/wheel_smoke, which also runs this file against the installed wheel.
"""
import fcntl
import io
import json
import os
import platform
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import textwrap

import pytest

import graphnn
from graphnn import progress
from graphnn.cli.env import PROBES
from tests.conftest import invoke

pytestmark = pytest.mark.slow  # seconds per test: see tests/conftest.py

# A model whose forward sleeps: tracing and three parity runs make its export take > 1.5 s,
# longer than progress.DELAY, without burning the CPU.
SLOW_MODEL = textwrap.dedent("""
    import time
    import torch
    import torch.nn as nn

    class Slow(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            time.sleep(0.4)
            return self.fc(x)

    model = Slow()
    example_inputs = (torch.randn(2, 4),)
""")

LIVE_LINE = re.compile(r"\r\[\d\d:\d\d\] export\b")


def _env_json() -> dict:
    result = invoke(["env", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_env_reports_versions_providers_cuda_opsets_and_dot():
    import onnx
    import onnxruntime as ort
    import torch
    from graphnn.backend.onnx.opsets import max_opset

    report = _env_json()
    assert list(report) == ["graphnn", "python", "platform", "torch", "onnx", "onnxruntime", "providers",
                            "cuda", "opsets", "dot"]
    assert report["graphnn"].startswith(f"{graphnn.__version__} (")
    assert os.path.dirname(os.path.abspath(graphnn.__file__)) in report["graphnn"]
    assert report["python"].startswith(platform.python_version())
    assert report["torch"].startswith(torch.__version__)
    assert report["onnx"].startswith(onnx.__version__)
    assert re.fullmatch(re.escape(ort.__version__) + r" \(onnxruntime(-gpu)?\)", report["onnxruntime"])
    assert report["providers"].split(", ") == ort.get_available_providers()
    assert re.fullmatch(r"usable \(\d+ GPU\(s\)\)|not usable: .+", report["cuda"])
    assert report["opsets"].startswith(f"13..{max_opset()} ")
    if shutil.which("dot"):
        assert re.fullmatch(r"\d+(\.\d+)+ \(.*dot\)", report["dot"]), report["dot"]
    else:
        assert report["dot"].startswith("not found")


def test_env_text_is_one_aligned_line_per_field():
    result = invoke(["env"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == list(PROBES)
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # values start in one column


def test_env_reports_a_broken_probe_and_the_rest(monkeypatch):
    def broken():
        raise ImportError("libonnxruntime.so: cannot open shared object file")

    monkeypatch.setitem(PROBES, "onnxruntime", broken)
    report = _env_json()
    assert report["onnxruntime"] == "error: ImportError: libonnxruntime.so: cannot open shared object file"
    assert report["python"].startswith(platform.python_version())


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def terminal(monkeypatch):
    """A terminal for stderr, outside CI, with the live line drawn at once. Tests put it in
    sys.stderr themselves: pytest's capture replaces sys.stderr after fixtures run."""
    stream = _Terminal()
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(progress, "DELAY", 0.0)
    progress.set_quiet(False)
    yield stream
    progress.set_quiet(False)


def _wait_for(stream, text):
    import time

    deadline = time.monotonic() + 10
    while text not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_live_line_shows_stages_and_notes_then_clears(terminal, monkeypatch):
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress.task("export"):
        progress.step("trace")
        _wait_for(terminal, "export: trace")
        progress.note("traced 3 nodes")
        progress.step("lower")
        _wait_for(terminal, "export: lower")
    out = terminal.getvalue()
    assert re.search(r"\[\d\d:\d\d\] export: trace", out) and re.search(r"\[\d\d:\d\d\] export: lower", out), out
    assert "traced 3 nodes\n" in out
    assert out.endswith("\r"), "the live line is erased when the task ends"


@pytest.mark.parametrize("why", ["quiet", "CI", "dumb terminal"])
def test_no_live_line_when_quiet_in_ci_or_dumb(terminal, monkeypatch, why):
    if why == "quiet":
        progress.set_quiet(True)
    elif why == "CI":
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress.task("export"):
        progress.step("trace")
        progress.note("a note")
    assert terminal.getvalue() == ("" if why == "quiet" else "a note\n")


def test_no_live_line_without_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with progress.task("export"):
        progress.step("trace")
        progress.note("a note")
    assert stream.getvalue() == "a note\n"


def _graphnn(*args, tty):
    """`graphnn ARGS` in a real process, stderr a pseudo-terminal or a pipe: (exit code, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    command = [sys.executable, "-m", "graphnn", *map(str, args)]
    if not tty:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        return proc.returncode, proc.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower side closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=300), b"".join(chunks).decode()


@pytest.fixture
def slow_model(tmp_path):
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "slow.py"
    path.write_text(SLOW_MODEL)
    return path


def test_long_export_on_a_terminal_shows_progress(slow_model, tmp_path):
    code, stderr = _graphnn("export", slow_model, tmp_path / "slow.onnx", tty=True)
    assert code == 0, stderr
    assert LIVE_LINE.search(stderr), stderr
    assert "loaded model from" in stderr  # notes still print, above the line


def test_long_export_without_a_terminal_shows_none(slow_model, tmp_path):
    code, stderr = _graphnn("export", slow_model, tmp_path / "slow.onnx", tty=False)
    assert code == 0, stderr
    assert "\r" not in stderr and not re.search(r"\] export: \w+", stderr), stderr
    assert "loaded model from" in stderr


def test_quiet_export_on_a_terminal_prints_nothing_on_stderr(slow_model, tmp_path):
    code, stderr = _graphnn("--quiet", "export", slow_model, tmp_path / "slow.onnx", tty=True)
    assert code == 0
    assert stderr == ""
    assert (tmp_path / "slow.onnx").is_file()


def test_checking_a_folder_on_a_terminal_shows_which_model(slow_model):
    (slow_model.parent / "slow_too.py").write_text(SLOW_MODEL)
    code, stderr = _graphnn("check", slow_model.parent, tty=True)
    assert code == 0, stderr
    # the line is cut to the terminal width, so a long tmp path may hide the file name
    assert re.search(r"\r\[\d\d:\d\d\] check [12]/2 \S+", stderr), stderr


def test_shell_completion_completes_commands_and_options():
    def complete(words):
        env = {"_GRAPHNN_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        return invoke([], env=env, prog_name="graphnn").stdout.splitlines()

    assert "plain,env" in complete("graphnn en")
    assert "plain,--no-parity" in complete("graphnn export --no-p")
