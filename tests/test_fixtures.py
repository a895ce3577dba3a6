"""Every fixture (the seeds' example models, and graphnn's own) passes parity at batch sizes
1 and 3, checked the way the pytest plugin checks a user's model folder
(``graphnn.testing.assert_file_parity``: what each ``--graphnn-models`` item runs)."""
import os

import pytest

from graphnn.model_files import model_files
from graphnn.testing import assert_file_parity
from tests.conftest import FIXTURE_FILES, ROOT



def test_fixtures_exist_and_are_all_model_files():
    assert len(FIXTURE_FILES) >= 20
    assert model_files(os.path.join(ROOT, "fixtures")) == FIXTURE_FILES  # what --graphnn-models fixtures/ collects


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=os.path.basename)
def test_fixture_passes_parity(path):
    report = assert_file_parity(path)
    symbols = {symbol for run in report.runs for symbol in run.sizes}
    sizes = {symbol: {run.sizes[symbol] for run in report.runs} for symbol in symbols}
    assert "batch" not in sizes or {1, 3} <= sizes["batch"], sizes
    assert all(len(seen) >= 2 for seen in sizes.values()), sizes  # every dynamic dim varies
