"""docs/errors.md shows every error class with a real message: run each example's command on
its model.py and check the CLI prints exactly the documented line (in-process with click's
runner: the same command code as a subprocess, without seconds of interpreter start-up)."""
import os
import re
import shlex

import pytest

import graphnn.errors
import graphnn.onnxfile.read
from tests.conftest import graphnn_cli, invoke

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "errors.md")
# The reason after "cannot be used:" is the machine's own (no driver, no GPU, no CUDA build);
# the newest opset is the installed onnxruntime's (26 for 1.31, 28 for 1.32).
MACHINE_DEPENDENT = {"DeviceError": "error: --device cuda cannot be used: ",
                     "OpsetError": "error: opset 99 is not supported: choose 13.."}
# An inline model's layers have no line in model.py; in-process, the test's own frame would be
# the innermost user line, so these run as a user runs them.
AS_SUBPROCESS = {"UnsupportedError", "MissingRuleError", "ShapeError"}


def sections() -> dict[str, tuple]:
    text = open(DOC).read()
    found = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip()
        source = re.search(r"```python\n# model.py\n(.*?)```", block, re.S)
        console = re.search(r"```console\n\$ (.*?)\n(error: .*?)\n```", block, re.S)
        found[name] = (source.group(1) if source else None, console.group(1), console.group(2))
    return found


def error_classes() -> set[str]:
    import graphnn.checkpoints
    import graphnn.view.render

    modules = (graphnn.errors, graphnn.onnxfile.read, graphnn.checkpoints, graphnn.view.render)
    return {name for module in modules for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, graphnn.errors.GraphnnError)}


def test_every_error_class_is_documented():
    assert error_classes() <= set(sections())


@pytest.mark.parametrize("name", list(sections()))
def test_the_documented_message_is_what_the_cli_prints(name, tmp_path, monkeypatch):
    source, command, expected = sections()[name]
    monkeypatch.chdir(tmp_path)
    if source:
        (tmp_path / "model.py").write_text(source)
    if name in AS_SUBPROCESS:
        proc = graphnn_cli(*shlex.split(command)[1:], cwd=str(tmp_path))
        code, stderr = proc.returncode, proc.stderr
    else:
        result = invoke(shlex.split(command)[1:])
        code, stderr = result.exit_code, result.stderr
    assert code == 2, stderr
    printed = stderr.strip().splitlines()[-1]
    if name in MACHINE_DEPENDENT:
        assert printed.startswith(MACHINE_DEPENDENT[name]) and expected.startswith(MACHINE_DEPENDENT[name])
    else:
        assert printed == expected
