"""Every opset graphnn accepts (13 .. the newest the installed onnxruntime runs) exports
and matches PyTorch on a model that touches most op families."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.backend.onnx import DEFAULT_OPSET, MIN_OPSET, max_opset
from tests.parity_utils import export_checked


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.gn = nn.GroupNorm(2, 8)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.ln = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = F.gelu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
        x = self.pool(self.gn(x))
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        tokens = x.flatten(2).transpose(1, 2)            # (N, HW, C)
        tokens = F.mish(self.ln(tokens)) * tokens.mean(dim=1, keepdim=True)
        scores = torch.softmax(tokens @ tokens.transpose(1, 2) / 8 ** 0.5, dim=-1)
        return self.fc((scores @ tokens)[:, 0]), tokens.amax(dim=(1, 2))


def test_opset_range():
    assert MIN_OPSET == 13 and DEFAULT_OPSET == 18
    assert max_opset() >= DEFAULT_OPSET


@pytest.mark.parametrize("opset", range(MIN_OPSET, max_opset() + 1))
def test_mixed_model_at_every_opset(opset):
    torch.manual_seed(0)
    model = Mixed()
    model.bn.running_mean.uniform_(-0.5, 0.5)
    model.bn.running_var.uniform_(0.5, 2.0)
    export_checked(model, torch.randn(1, 3, 9, 9), opsets=(opset,))
