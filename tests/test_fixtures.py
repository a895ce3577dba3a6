"""Every fixture (the seeds' example models, and graphnn's own) exports with parity
at batch sizes 1 and 3."""
import glob
import os

import pytest

import graphnn
from graphnn.loader import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.py")))


def test_fixtures_exist():
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_exports_with_parity(path, tmp_path):
    loaded, inputs = load(path)
    out = tmp_path / "model.onnx"
    result = graphnn.export(loaded.model, inputs, str(out))
    assert result.report.ok, "\n".join(result.report.lines())
    assert {1, 3} <= {run.batch for run in result.report.runs}
    assert out.exists() and result.written == [str(out)]
