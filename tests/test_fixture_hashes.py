"""The ONNX files of every fixture, byte for byte, as recorded in tests/fixture_hashes.json.

A refactor that means to change no behaviour must leave every file identical; this test
is how that is known rather than hoped. A change that means to alter files (a new lowering,
a fusion) rewrites the record with

    GRAPHNN_UPDATE_HASHES=1 python -m pytest tests/test_fixture_hashes.py

and the diff of tests/fixture_hashes.json shows which files it changed.
"""
import hashlib
import json
import os

import pytest
import torch
from tests.conftest import FIXTURE_FILES, ROOT, invoke


RECORD = os.path.join(ROOT, "tests", "fixture_hashes.json")
# Each variant is one walk through a different part of the pipeline: the default (fx, all
# passes, opset 18), the oldest opset's lowerings, the unoptimized IR, the torch.export frontend.
VARIANTS = {
    "default": [],
    "opset13": ["--opset", "13"],
    "no-optimize": ["--no-optimize"],
    "export-frontend": ["--frontend", "export"],
}
UPDATING = os.environ.get("GRAPHNN_UPDATE_HASHES") == "1"


def _recorded() -> dict:
    with open(RECORD) as f:
        return json.load(f)


def _export_hash(path: str, options: list, out: str) -> str:
    torch.manual_seed(0)  # fixtures draw their weights at import: the same weights whatever ran before
    result = invoke(["--quiet", "export", path, out, "--no-parity", *options])
    if result.exit_code != 0:
        return f"exit {result.exit_code}: {result.output.strip().splitlines()[-1:]}"
    with open(out, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def record():
    recorded = {} if UPDATING else _recorded()
    yield recorded
    if UPDATING:
        with open(RECORD, "w") as f:
            json.dump(recorded, f, indent=1, sort_keys=True)
            f.write("\n")


@pytest.mark.parametrize("variant,path", [(v, p) for v in VARIANTS for p in FIXTURE_FILES],
                         ids=lambda x: os.path.basename(x) if x.endswith(".py") else x)
def test_fixture_file_is_byte_identical(record, variant, path, tmp_path):
    key = f"{variant}/{os.path.basename(path)}"
    digest = _export_hash(path, VARIANTS[variant], str(tmp_path / "model.onnx"))
    if UPDATING:
        record[key] = digest
        return
    assert key in record, f"{key} has no recorded hash: run with GRAPHNN_UPDATE_HASHES=1"
    assert digest == record[key], f"{key}: the file changed (see this module's docstring)"


def test_record_covers_every_fixture():
    if UPDATING:
        pytest.skip("the record is being rewritten")
    expected = {f"{v}/{os.path.basename(p)}" for v in VARIANTS for p in FIXTURE_FILES}
    assert set(_recorded()) == expected
