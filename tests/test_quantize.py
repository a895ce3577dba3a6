"""--quantize dynamic: int8 files by onnxruntime's quantizer, within tolerance of torch at
two batch sizes, and the layer that breaks under int8 kept float32 and named."""
import onnx
import pytest

import graphnn
from graphnn.compress.measure import DEFAULT_TOLERANCES, parse_tolerance
from graphnn.errors import GraphnnError
from tests.compress_models import CASES, case_params, outlier_mlp, relative_errors
from tests.conftest import invoke

INT8 = DEFAULT_TOLERANCES["int8"]


def _export(case, path, **kwargs):
    model, inputs, dims = case()
    result = graphnn.export(model, inputs, str(path), dynamic_dims=dims, quantize="dynamic", **kwargs)
    return model, inputs, result


@pytest.mark.parametrize("name", case_params())
def test_int8_file_is_within_tolerance_at_two_batch_sizes(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    model, inputs, result = _export(CASES[name], path)
    assert result.ok and result.compression.passed
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "MatMulInteger" in ops or "ConvInteger" in ops
    report = result.compression
    assert report.converted == report.total > 0 and not report.kept
    assert report.after.size < 0.75 * report.before.size
    assert report.after.error.rel <= INT8.rel
    errors = relative_errors(model, inputs, str(path))
    assert max(errors) <= INT8.rel, errors
    assert min(errors) > 1e-5, "no int8 rounding at all: was anything quantized?"


def test_every_linear_of_a_classifier_head_is_quantized(tmp_path):
    """Gemm (a Linear on 2-D input) has no IntegerOps rule in onnxruntime: graphnn makes it a
    MatMul first, so the MLP's three layers all become MatMulInteger."""
    _, _, result = _export(CASES["mlp"], tmp_path / "mlp.onnx")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "mlp.onnx")).graph.node]
    assert ops.count("MatMulInteger") == 3 and "Gemm" not in ops


def test_the_layer_that_breaks_under_int8_is_kept_float32_and_named(tmp_path):
    path = tmp_path / "outlier.onnx"
    model, inputs, result = _export(outlier_mlp, path)
    report = result.compression
    assert result.ok and report.passed
    assert [layer.name for layer, _ in report.kept] == ["mid"]
    assert report.kept[0][1].rel > INT8.rel  # its error alone breaks the tolerance
    lines = "\n".join(report.lines())
    assert "kept float32: mid (compress_models.py:" in lines and "alone" in lines
    model_nodes = onnx.load(str(path)).graph.node
    assert [n.op_type for n in model_nodes].count("MatMulInteger") == 2  # first and last still int8
    assert max(relative_errors(model, inputs, str(path))) <= INT8.rel


def test_quantizing_everything_breaks_the_outlier_model(tmp_path):
    """The test above means something only if int8 everywhere fails: a loose tolerance
    keeps nothing, and the error is then over the default."""
    model, inputs, result = _export(outlier_mlp, tmp_path / "loose.onnx", quantize_tolerance="rel=10")
    assert not result.compression.kept
    assert max(relative_errors(model, inputs, str(tmp_path / "loose.onnx"))) > INT8.rel


def test_a_tighter_tolerance_keeps_more_layers(tmp_path):
    _, _, loose = _export(CASES["mlp"], tmp_path / "a.onnx")
    _, _, tight = _export(CASES["mlp"], tmp_path / "b.onnx", quantize_tolerance="1e-4")
    assert not loose.compression.kept and tight.compression.kept
    assert tight.compression.after.error.rel <= 1e-4


def test_report_states_size_latency_error_and_tolerance(tmp_path):
    _, _, result = _export(CASES["mlp"], tmp_path / "mlp.onnx")
    text = "\n".join(result.compression.lines())
    for word in ("tolerance: relative error <= 0.05", "size ", "latency ", "error ", "onnxruntime CPU",
                 "within tolerance"):
        assert word in text


@pytest.mark.parametrize("text, rel, top1", [("0.02", 0.02, INT8.top1), ("rel=0.1,top1=0.9", 0.1, 0.9),
                                             ("top1=0.5", INT8.rel, 0.5), (None, INT8.rel, INT8.top1)])
def test_tolerance_text(text, rel, top1):
    assert parse_tolerance(text, "int8") == type(INT8)(rel, top1)


@pytest.mark.parametrize("text", ["abc", "rel=", "top1=2", "rel=-1", "size=3"])
def test_bad_tolerance_text_is_a_user_error(text):
    with pytest.raises(GraphnnError, match="--quantize-tolerance"):
        parse_tolerance(text, "int8")


def test_api_refuses_unknown_modes_before_tracing():
    model, inputs, _ = CASES["mlp"]()
    with pytest.raises(GraphnnError, match="quantize='static' is not known"):
        graphnn.export(model, inputs, None, quantize="static")


@pytest.mark.parametrize("args, message", [
    (["--quantize", "dynamic", "--quantize-tolerance", "abc"], "error: --quantize-tolerance 'abc': give a relative"),
    (["--quantize", "dynamic", "--precision", "float16"], "error: --quantize dynamic and --precision float16 cannot"),
    (["--float16-io"], "error: --float16-io needs --precision float16"),
    (["--quantize-tolerance", "0.1"], "error: --quantize-tolerance needs --quantize dynamic or --precision float16"),
    (["--quantize", "static"], "Invalid value for '--quantize'"),
])
def test_cli_option_errors_exit_2_with_one_line(args, message, tmp_path):
    out = tmp_path / "out.onnx"
    result = invoke(["export", "fixtures/simple_cnn.py", out, *args])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if "rror" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_cli_writes_the_int8_file_and_prints_the_report(tmp_path):
    out = tmp_path / "int8.onnx"
    result = invoke(["export", "fixtures/simple_cnn.py", out, "--quantize", "dynamic"])
    assert result.exit_code == 0, result.output
    assert "int8 dynamic" in result.stdout and "kept float32" not in result.stdout
    assert any(n.op_type == "ConvInteger" for n in onnx.load(str(out)).graph.node)


@pytest.mark.parametrize("kind, ops, expected", [
    ("int8 dynamic", {"ConvInteger"}, "ConvInteger kernel is slower"),
    ("float16 (float32 inputs/outputs)", {"MatMul"}, "float16 is for GPUs"),
    ("int8 dynamic", {"MatMulInteger"}, ""),
])
def test_a_slower_file_says_why(kind, ops, expected):
    from graphnn.compress.report import slower_note
    assert expected in slower_note(kind, 1.0, 2.0, ops) and (expected or not slower_note(kind, 1.0, 2.0, ops))
    assert slower_note(kind, 2.0, 1.0, ops) == ""
