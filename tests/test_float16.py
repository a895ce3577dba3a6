"""--precision float16: files computing in float16 on onnxruntime's CPU provider, within
tolerance of torch at two batch sizes; softmax / norms stay float32; a layer that overflows
float16 is kept float32 and named."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto

import graphnn
from graphnn.compress.measure import DEFAULT_TOLERANCES
from tests.compress_models import CASES, case_params, overflow_mlp, relative_errors
from tests.conftest import invoke

FLOAT16 = DEFAULT_TOLERANCES["float16"]


def _export(case, path, **kwargs):
    model, inputs, dims = case()
    result = graphnn.export(model, inputs, str(path), dynamic_dims=dims, precision="float16", **kwargs)
    return model, inputs, result


def _io_types(path):
    graph = onnx.load(str(path)).graph
    return {v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)}


@pytest.mark.parametrize("name", case_params())
def test_float16_file_is_within_tolerance_at_two_batch_sizes(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    model, inputs, result = _export(CASES[name], path)
    assert result.ok and result.compression.passed and not result.compression.kept
    model_proto = onnx.load(str(path))
    layer_weights = {n.input[1] for n in model_proto.graph.node if n.op_type in ("MatMul", "Gemm", "Conv")}
    weights = [t for t in model_proto.graph.initializer if t.name in layer_weights]
    assert weights and all(t.data_type == TensorProto.FLOAT16 for t in weights)
    assert TensorProto.FLOAT16 not in _io_types(path)  # float32 at the boundaries
    assert result.compression.after.size < 0.8 * result.compression.before.size
    errors = relative_errors(model, inputs, str(path))
    assert max(errors) <= FLOAT16.rel, errors
    assert min(errors) > 1e-5, "no float16 rounding at all: was anything converted?"


@pytest.mark.slow  # a BERT config
def test_softmax_and_layer_norm_stay_float32(tmp_path):
    path = tmp_path / "bert.onnx"
    _export(CASES["bert"], path)
    inferred = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    kept = [n for n in inferred.graph.node if n.op_type in ("Softmax", "LayerNormalization")]
    assert kept and all(types.get(n.output[0]) == TensorProto.FLOAT for n in kept)
    matmuls = [n for n in inferred.graph.node if n.op_type == "MatMul"]
    assert matmuls and all(types.get(n.output[0]) == TensorProto.FLOAT16 for n in matmuls)


def test_float16_io(tmp_path):
    path = tmp_path / "half_io.onnx"
    model, inputs, result = _export(CASES["mlp"], path, float16_io=True)
    assert result.ok and _io_types(path) == {TensorProto.FLOAT16}
    assert max(relative_errors(model, inputs, str(path))) <= FLOAT16.rel


def test_layers_that_overflow_float16_are_kept_float32_and_named(tmp_path):
    path = tmp_path / "overflow.onnx"
    model, inputs, result = _export(overflow_mlp, path)
    report = result.compression
    assert result.ok and report.passed
    assert sorted(layer.name for layer, _ in report.kept) == ["relu_1", "small"]
    assert all(not np.isfinite(error.rel) or error.rel > FLOAT16.rel for _, error in report.kept)
    lines = "\n".join(report.lines())
    assert "kept float32: small (compress_models.py:" in lines and "error nan alone" in lines
    assert max(relative_errors(model, inputs, str(path))) <= FLOAT16.rel


def test_cli_float16(tmp_path):
    out = tmp_path / "half.onnx"
    result = invoke(["export", "fixtures/simple_cnn.py", out, "--precision", "float16",
                     "--quantize-tolerance", "rel=0.005"])
    assert result.exit_code == 0, result.output
    assert "float16" in result.stdout and "relative error <= 0.005" in result.stdout
    assert any(t.data_type == TensorProto.FLOAT16 for t in onnx.load(str(out)).graph.initializer)


@pytest.mark.slow  # the whole search runs: every layer alone, then every step
def test_a_tolerance_no_choice_meets_writes_nothing_and_exits_1(tmp_path):
    """float16 inputs round the input itself, which no layer kept float32 undoes: at a
    tolerance below that rounding, nothing is written."""
    out = tmp_path / "half.onnx"
    result = invoke(["export", "fixtures/simple_cnn.py", out, "--precision", "float16", "--float16-io",
                     "--quantize-tolerance", "1e-7"])
    assert result.exit_code == 1 and not out.exists()
    assert "NOT within tolerance" in result.stdout
    assert "error: the float16 file is not within tolerance even with every layer kept float32" in result.stderr
