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
    result = graphnn.export(loaded.model, inputs, str(out), dynamic_dims=loaded.dynamic_dims)
    assert result.report.ok, "\n".join(result.report.lines())
    sizes = {symbol: {run.sizes[symbol] for run in result.report.runs} for symbol in result.graph.symbols}
    assert "batch" not in sizes or {1, 3} <= sizes["batch"], sizes
    assert all(len(seen) >= 2 for seen in sizes.values()), sizes  # every dynamic dim varies
    assert out.exists() and result.written == [str(out)]
