"""What many test modules share: where the repository and its fixtures are, and the two
ways a test drives the command line (in process with click's runner; as a user does, in a
subprocess). Import the helpers as ``from tests.conftest import ...``.

Tests that take seconds (transformers models, the fuzzer, large models, timings, the
packaging and plugin tests that start Python processes) are marked ``slow``.
``pytest -m "not slow"`` is the quick loop while editing; CI runs everything.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES_DIR = os.path.join(ROOT, "fixtures")
FIXTURE_FILES = sorted(glob.glob(os.path.join(FIXTURES_DIR, "*.py")))


def fixture(name: str) -> str:
    """The path of ``fixtures/<name>``."""
    return os.path.join(FIXTURES_DIR, name)


def invoke(args, **kwargs) -> Result:
    """``graphnn ARGS`` in this process (click's runner): fast, and exceptions stay visible."""
    from graphnn.cli.main import main

    return CliRunner().invoke(main, [str(arg) for arg in args], **kwargs)


def graphnn_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    """``python -m graphnn ARGS`` in a subprocess, as a user runs ``graphnn ARGS``."""
    return subprocess.run([sys.executable, "-m", "graphnn", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """``checkpoint(name)``: the folder ``save_pretrained`` writes for that architecture of
    tests/transformer_zoo.py's CAUSAL_LMS (its weights seeded), written once per session and
    shared by every test module that takes it (architectures, generation)."""
    root = tmp_path_factory.mktemp("architectures")
    written = {}

    def folder(name: str):
        if name not in written:
            import torch
            import transformers
            from tests.transformer_zoo import CAUSAL_LMS
            torch.manual_seed(0)
            model = transformers.AutoModelForCausalLM.from_config(CAUSAL_LMS[name]())
            model.save_pretrained(str(root / name))
            written[name] = root / name
        return written[name]
    return folder
