"""Broken and hostile ONNX files for `graphnn run` (graphnn.onnx_checks): each is refused with
exit 2 and one line, before onnxruntime opens it, and nothing outside the model's folder is
read. Real subprocesses, as a user runs them."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from click.testing import CliRunner

from graphnn.cli.main import main
from graphnn.onnx_checks import OnnxFileError, load_checked
from tests.test_cli import graphnn_cli


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
    result = CliRunner().invoke(main, ["run", write(tmp_path, make), "--repeat", "1"])
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
