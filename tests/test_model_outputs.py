"""A model with no tensor outputs (None, an empty tuple, only Python numbers) has nothing an
ONNX file could hold: every command, under every frontend, says so in one line, exit 2."""
import pytest

from tests.conftest import invoke

MODEL = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        self.fc(x)
        return {returns}


model = Model()
example_inputs = (torch.randn(2, 4),)
"""


@pytest.mark.parametrize("returns, shown", [("None", "None"), ("()", "()"), ("x.dim(), 3", "(2, 3)")])
@pytest.mark.parametrize("frontend", ["auto", "fx", "export"])
@pytest.mark.parametrize("command", ["export", "check", "graph"])
def test_no_tensor_output_is_one_line_exit_2(returns, shown, frontend, command, tmp_path):
    model_py = tmp_path / "model.py"
    model_py.write_text(MODEL.format(returns=returns))
    args = [command, model_py] + ([tmp_path / "out.onnx"] if command == "export" else []) + ["--frontend", frontend]
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: the model returns {shown}, which holds no tensor: an ONNX file needs at least one output; "
        f"return the tensors to export")
    assert not (tmp_path / "out.onnx").exists()
