"""Broken and hostile ONNX files for `graphnn run` (graphnn.onnxfile.read): each is refused with
exit 2 and one line, before onnxruntime opens it, and nothing outside the model's folder is
read. Real subprocesses, as a user runs them."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


from graphnn.onnxfile.read import OnnxFileError, load_checked
from tests.conftest import graphnn_cli, invoke


def matmul_model(weight=None) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.ones((4, 3), np.float32) if weight is None else weight, "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def external(model: onnx.ModelProto, location: str, offset: int = 0) -> onnx.ModelProto:
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset))):
        weight.external_data.add(key=key, value=value)
    return model


def escaping(tmp_path):
    return external(matmul_model(), "../../etc/passwd")


def absolute(tmp_path):
    return external(matmul_model(), "/etc/passwd")


def missing(tmp_path):
    return external(matmul_model(), "weights.bin")


def short(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)  # the 4x3 float weight needs 48
    return external(matmul_model(), "weights.bin")


def symlink_out(tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-secret"
    outside.write_bytes(b"\0" * 48)
    os.symlink(outside, tmp_path / "weights.bin")
    return external(matmul_model(), "weights.bin")


def oversized(tmp_path):
    model = matmul_model()
    model.graph.initializer[0].dims[:] = [400000, 300000]  # 480 GB declared, 48 bytes held
    return model


def cycle(tmp_path):
    model = matmul_model()
    graph = model.graph
    del graph.node[:]
    graph.node.extend([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                       helper.make_node("Relu", ["a"], ["b"], name="second"),
                       helper.make_node("MatMul", ["a", "w"], ["y"], name="fc")])
    return model


def new_opset(tmp_path):
    model = matmul_model()
    model.opset_import[0].version = 99
    return model


def new_ir(tmp_path):
    model = matmul_model()
    model.ir_version = 99
    return model


CASES = {
    escaping: "outside the model's folder", absolute: "outside the model's folder",
    symlink_out: "outside the model's folder", missing: "external data 'weights.bin' is missing",
    short: "needs 48 bytes", oversized: "but holds 48 bytes", cycle: "which a later node makes",
    new_opset: "uses ONNX opset 99", new_ir: "has ONNX IR version 99",
}


def write(tmp_path, make) -> str:
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "model.onnx"
    path.write_bytes(make(folder).SerializeToString())
    return str(path)


@pytest.mark.parametrize("make", list(CASES), ids=lambda f: f.__name__)
def test_broken_files_are_refused_before_onnxruntime_reads_them(tmp_path, make):
    with pytest.raises(OnnxFileError, match=CASES[make]):
        load_checked(write(tmp_path, make))


@pytest.mark.parametrize("make", list(CASES), ids=lambda f: f.__name__)
def test_cli_run_refuses_each_with_exit_2_and_one_line(tmp_path, make):
    result = invoke(["run", write(tmp_path, make), "--repeat", "1"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0
    assert CASES[make] in result.stderr


# Interpreter start-up costs seconds: three cases (a path out, a cycle, a too-new file) also
# run as real subprocesses; the rest go through the same command in-process above.
@pytest.mark.parametrize("make", [escaping, cycle, new_ir], ids=lambda f: f.__name__)
def test_cli_run_subprocess_refuses_in_one_line_without_traceback(tmp_path, make):
    proc = graphnn_cli("run", write(tmp_path, make), "--repeat", "1")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert CASES[make] in proc.stderr


def test_a_well_formed_file_with_external_data_beside_it_runs(tmp_path):
    model = matmul_model()
    folder = tmp_path / "models"
    folder.mkdir()
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    assert load_checked(str(folder / "model.onnx")).graph.initializer[0].data_location == TensorProto.EXTERNAL
    proc = graphnn_cli("run", str(folder / "model.onnx"), "--repeat", "1")
    assert proc.returncode == 0, proc.stderr
    assert "y: 2x3 float32" in proc.stdout


# Interruptions and races: an output file is written whole or not at all, and an existing one
# survives every failure.

SLOW_WRITE_PY = '''
import time
import torch
import torch.nn as nn
import graphnn.onnxfile.serialize as files

model = nn.Linear(4, 2)
example_inputs = (torch.randn(2, 4),)
_write = files._write


def _slow_write(proto, path, *rest):  # part of a file on disk, then a pause to be interrupted in
    with open(path, "wb") as handle:
        handle.write(b"partial")
    print("WRITING", flush=True)
    time.sleep(60)
    return _write(proto, path, *rest)


files._write = _slow_write
'''


def test_ctrl_c_while_writing_exits_130_and_leaves_the_old_file(tmp_path):
    import signal
    import subprocess
    import sys

    model_py = tmp_path / "model.py"
    model_py.write_text(SLOW_WRITE_PY)
    out = tmp_path / "out.onnx"
    out.write_bytes(b"previous file")
    # A shell's background job (`pytest ... &`) ignores SIGINT, and its children inherit that:
    # SIG_DFL in the child lets Python install its Ctrl-C handler however the tests were started.
    proc = subprocess.Popen([sys.executable, "-m", "graphnn", "export", str(model_py), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if "WRITING" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert out.read_bytes() == b"previous file"
    assert sorted(os.listdir(tmp_path)) == ["model.py", "out.onnx"]  # no staging folder left


PARITY_FAILS_PY = '''
import torch
import torch.nn as nn


class ViewWrite(nn.Module):  # writes through a view, which tracing does not follow: parity fails
    def forward(self, x):
        y = x * 1
        y[:, :2].mul_(0)
        return y


model = ViewWrite()
example_inputs = (torch.randn(2, 4),)
'''


def test_a_parity_failure_keeps_the_existing_file(tmp_path):
    model_py = tmp_path / "model.py"
    model_py.write_text(PARITY_FAILS_PY)
    out = tmp_path / "out.onnx"
    out.write_bytes(b"previous file")
    proc = graphnn_cli("export", str(model_py), str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert out.read_bytes() == b"previous file"


def test_two_exports_to_one_path_at_once_leave_one_complete_file(tmp_path):
    import subprocess
    import sys

    model_py = tmp_path / "model.py"
    model_py.write_text("import torch\nimport torch.nn as nn\nmodel = nn.Linear(4, 2)\n"
                        "example_inputs = (torch.randn(2, 4),)\n")
    out = tmp_path / "out.onnx"
    procs = [subprocess.Popen([sys.executable, "-m", "graphnn", "export", str(model_py), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert sorted(os.listdir(tmp_path)) == ["model.py", "out.onnx"]


@pytest.mark.parametrize("make", [escaping, symlink_out, new_opset], ids=lambda f: f.__name__)
def test_check_with_an_onnx_file_refuses_it_the_same_way(tmp_path, make, monkeypatch):
    model_py = tmp_path / "model.py"
    model_py.write_text("import torch\nimport torch.nn as nn\nmodel = nn.Linear(4, 3)\n"
                        "example_inputs = (torch.randn(2, 4),)\n")
    result = invoke(["check", str(model_py), "--onnx", write(tmp_path, make)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and CASES[make] in result.stderr
