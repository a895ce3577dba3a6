"""The README's two newcomer commands, and CI running the second one verbatim."""
import os
import re
from tests.conftest import ROOT



def readme_commands():
    with open(os.path.join(ROOT, "README.md")) as handle:
        return re.findall(r"```bash\n(.+?)\n```", handle.read())


def test_readme_has_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert "graphnn export fixtures/simple_cnn.py" in commands[0]
    assert "pytest" in commands[1]
    assert all("-c constraints.txt" in c for c in commands)


def test_ci_runs_the_readme_test_command():
    with open(os.path.join(ROOT, ".ci", "run")) as handle:
        ci_lines = handle.read().splitlines()
    assert readme_commands()[1] in ci_lines


def test_export_command_names_an_existing_fixture():
    path = re.search(r"graphnn export (\S+)", readme_commands()[0]).group(1)
    assert os.path.isfile(os.path.join(ROOT, path))
