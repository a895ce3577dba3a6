"""A rule that raises (a bug in graphnn, not in the user's model) is one line naming the
layer, the user's line and the call, exit 2 under the CLI: never a Python traceback."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import UnsupportedError
from graphnn.frontend.rules import forget_function_rule, function_rule
from tests.conftest import invoke


@pytest.fixture
def failing_rule():
    """torch.special.i0 (which has no rule) given one that fails as a buggy rule would."""
    @function_rule(torch.special.i0)
    def broken(b, x, *, out=None):
        return int(x)  # TypeError: int() argument must be ... not 'Ref' (timm's DaViT met one such)
    yield
    forget_function_rule(torch.special.i0)


class Block(nn.Module):
    def forward(self, x):
        return torch.special.i0(x) + 1


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x):
        return self.block(x)


@pytest.mark.parametrize("frontend", ["fx", "export"])
def test_a_failing_rule_is_one_line_naming_layer_line_and_op(failing_rule, frontend):
    with pytest.raises(UnsupportedError) as raised:
        graphnn.trace(Net(), torch.randn(2, 3), frontend=frontend)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("block, test_rule_failures.py:")
    assert "rule for torch.special.i0" in message or "rule for aten.special_i0" in message
    assert "failed (TypeError: int() argument must be" in message and "a bug in graphnn" in message


def test_the_cli_exits_2_without_a_traceback(failing_rule, tmp_path):
    model = tmp_path / "model.py"
    model.write_text("import torch\n\n\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
                     "        return torch.special.i0(x)\n\n\nmodel = M()\nexample_inputs = (torch.randn(2, 3),)\n")
    result = invoke(["export", model, tmp_path / "m.onnx"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: model.py:6: graphnn's rule for torch.special.i0 failed")
