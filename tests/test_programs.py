"""Programs saved with torch.export.save (.pt2) as MODEL_PY: no model code, the program's own
example inputs and dynamic dims, parity against the program's own module."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from graphnn.loader import load, load_model_file
from tests.conftest import ROOT, invoke

Dim = torch.export.Dim


def fixture_model(name):
    return load_model_file(os.path.join(ROOT, "fixtures", name)).model.eval()


@pytest.fixture(scope="module")
def cnn_program(tmp_path_factory):
    """fixtures/simple_cnn.py exported with a dynamic batch, saved as a user would."""
    model = fixture_model("simple_cnn.py")
    program = torch.export.export(model, (torch.randn(2, 3, 28, 28),), dynamic_shapes=({0: Dim("batch")},))
    path = tmp_path_factory.mktemp("program") / "cnn.pt2"
    torch.export.save(program, str(path))
    return str(path), program


def dim_params(path):
    return [[d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
            for value in onnx.load(str(path)).graph.input]


def test_saved_program_exports_with_parity_at_two_batch_sizes(cnn_program, tmp_path):
    path, program = cnn_program
    out = tmp_path / "cnn.onnx"
    result = invoke(["export", path, str(out)])
    assert result.exit_code == 0, result.output
    for batch in (2, 1, 3):  # the program's own example, then two more
        assert f"batch {batch}: output [{batch}x10]" in result.output and "... ok" in result.output
    assert dim_params(out) == [["batch", 3, 28, 28]]
    x = torch.randn(5, 3, 28, 28)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got, program.module()(x).detach().numpy(), atol=1e-4, rtol=1e-4)


def test_program_layers_keep_their_names_and_classes(cnn_program):
    path, _ = cnn_program
    result = invoke(["graph", path])
    assert result.exit_code == 0, result.output
    rows = {words[0]: words[1] for words in map(str.split, result.output.splitlines()) if len(words) > 1}
    assert rows["conv1"] == "Conv2d" and rows["fc"] == "Linear" and rows["pool"] == "MaxPool2d"
    assert "Total params: 20,778" in result.output


class Pooled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(10, 3)

    def forward(self, x):
        return self.fc(x).mean(dim=1)


def test_program_inputs_and_dims_come_from_the_program(tmp_path):
    program = torch.export.export(Pooled(), (torch.randn(4, 6, 10),),
                                  dynamic_shapes=({0: Dim("b"), 1: Dim("s")},))
    torch.export.save(program, str(tmp_path / "gru.pt2"))
    loaded, inputs = load(str(tmp_path / "gru.pt2"))
    assert loaded.kind == "program" and inputs.tensors[0].shape == (4, 6, 10)
    assert loaded.dynamic_dims == [{0: "batch", 1: "x_dim1"}]
    out = tmp_path / "gru.onnx"
    result = invoke(["export", str(tmp_path / "gru.pt2"), str(out)])
    assert result.exit_code == 0, result.output
    assert dim_params(out) == [["batch", "x_dim1", 10]]
    assert "x_dim1 7:" in result.output and "x_dim1 5:" in result.output  # parity varied the sequence too


def test_static_program(cnn_program, tmp_path):
    path, _ = cnn_program
    out = tmp_path / "static.onnx"
    result = invoke(["export", path, str(out), "--static"])
    assert result.exit_code == 0, result.output
    assert dim_params(out) == [[2, 3, 28, 28]]


def test_program_refuses_what_does_not_apply(cnn_program, tmp_path):
    path, _ = cnn_program
    torch.save(fixture_model("simple_cnn.py").state_dict(), tmp_path / "w.pt")
    cases = [
        (["check", path, "--frontend", "fx"], "read by the export frontend only"),
        (["check", path, "--weights", str(tmp_path / "w.pt")], "holds its own weights"),
        (["graph", path, "--model", "net"], "--model net"),
    ]
    for args, message in cases:
        result = invoke(args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)


class Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(10, 3)

    def forward(self, x, scale=None):
        return self.fc(x) * scale


def test_program_exported_with_keyword_inputs(tmp_path):
    program = torch.export.export(Scaled(), (torch.randn(4, 10),), {"scale": torch.randn(4, 1)},
                                  dynamic_shapes={"x": {0: Dim("b")}, "scale": {0: Dim("b")}})
    torch.export.save(program, str(tmp_path / "kw.pt2"))
    out = tmp_path / "kw.onnx"
    result = invoke(["export", str(tmp_path / "kw.pt2"), str(out)])
    assert result.exit_code == 0, result.output
    assert "batch 3: output [3x3]" in result.output
    assert [i.name for i in onnx.load(str(out)).graph.input] == ["x", "scale"]


def test_decomposed_program_says_to_save_it_before_decomposing(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)).eval()
    program = torch.export.export(model, (torch.randn(2, 3, 8, 8),)).run_decompositions()
    torch.export.save(program, str(tmp_path / "core.pt2"))
    result = invoke(["graph", str(tmp_path / "core.pt2")])
    assert result.exit_code == 2, result.output
    assert "aten.convolution.default is not supported" in result.output
    assert "before decomposing it" in result.output
