"""Models shaped like the ones people export (ResNet, MobileNet, a transformer block),
written here because torchvision is not a dependency: residual adds, in-place ReLU,
downsample branches, depthwise convs, squeeze-excite, attention with traced sizes."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from tests.parity_utils import export_checked, onnx_ops


def randomize_bns(model):
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_resnet_folds_every_batchnorm():
    torch.manual_seed(0)
    model = randomize_bns(TinyResNet())
    models = export_checked(model, torch.randn(1, 3, 64, 64))
    ops = onnx_ops(models[18])
    assert "BatchNormalization" not in ops
    assert ops.count("Conv") == 10 and ops.count("Add") == 4


class MobileBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.pw = nn.Conv2d(16, 24, 1)
        self.act = nn.Hardswish()
        self.se_reduce = nn.Conv2d(24, 8, 1)
        self.se_expand = nn.Conv2d(8, 24, 1)

    def forward(self, x):
        x = self.act(self.pw(F.relu6(self.bn(self.dw(x)))))
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.se_expand(F.relu(self.se_reduce(scale))))
        return x * scale


def test_mobilenet_block():
    torch.manual_seed(0)
    export_checked(randomize_bns(MobileBlock()), torch.randn(1, 16, 12, 12))


class EncoderBlock(nn.Module):
    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 64), nn.GELU(), nn.Dropout(0.1), nn.Linear(64, dim))

    def forward(self, x):
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        split = lambda t: t.view(batch, tokens, self.heads, dim // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        attn = (q @ k.transpose(-2, -1)) * (dim // self.heads) ** -0.5
        y = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, tokens, dim)
        x = x + self.proj(y)
        return x + self.mlp(self.norm2(x))


def test_transformer_encoder_block_keeps_batch_dynamic():
    torch.manual_seed(0)
    model = EncoderBlock()
    graph = graphnn.trace(model, torch.randn(1, 5, 32))
    assert graph.values[graph.outputs[0]].shape == ("batch", 5, 32)
    export_checked(model, torch.randn(1, 5, 32))
