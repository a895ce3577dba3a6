"""``graphnn export --timings``: seconds and peak memory per stage (issue 7)."""
import os

import torch
import torch.nn as nn

import graphnn
from graphnn import timings
from graphnn.passes import PIPELINE
from tests.conftest import ROOT, invoke

STAGES = ["load", "trace", *(p.name for p in PIPELINE), "lower", "check", "parity", "write"]


def test_cli_prints_every_stage_in_order(tmp_path):
    out = tmp_path / "m.onnx"
    result = invoke(["export", os.path.join(ROOT, "fixtures", "simple_cnn.py"), str(out),
                                       "--timings"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["stage", "seconds"])
    rows = [line.split() for line in lines[header + 1:header + 2 + len(STAGES)]]
    names = [row[0] for row in rows[:-1]]
    assert names == STAGES
    total = next(row for row in rows if row and row[0] == "total")
    assert float(total[1]) > 0 and float(total[2]) > 0  # seconds, peak MB


def test_without_the_flag_no_table(tmp_path):
    result = invoke(["export", os.path.join(ROOT, "fixtures", "simple_cnn.py"),
                                       str(tmp_path / "m.onnx")])
    assert result.exit_code == 0 and "peak MB" not in result.output


def test_stages_record_only_while_recording():
    model, x = nn.Sequential(nn.Linear(4, 4)), torch.randn(2, 4)
    graphnn.export(model, x, check=False)  # nothing recording: stages are no-ops
    with timings.recording(False) as off:
        graphnn.export(model, x, check=False)
    with timings.recording() as on:
        graphnn.export(model, x, check=False)
    assert off.stages == []
    assert [s.name for s in on.stages] == ["trace", *(p.name for p in PIPELINE), "lower", "check"]
    assert all(s.seconds >= 0 and s.peak_mb >= s.start_mb > 0 for s in on.stages)


def test_a_stage_sees_the_memory_it_allocates():
    with timings.recording() as recorded:
        with timings.stage("allocate"):
            block = torch.ones(64 * 2**20 // 4)  # 64 MB, touched
            del block
    stage = recorded.stages[0]
    assert stage.peak_mb - stage.start_mb >= 60, recorded.table()
