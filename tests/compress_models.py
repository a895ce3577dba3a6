"""Tiny models for the int8 / float16 tests, and an independent check of a written file:
onnxruntime on the file against torch at two batch sizes, the relative error computed here
(not by graphnn.compress), so a bug in its measurement cannot pass its own test."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tests import transformer_zoo


def mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 10))
    return model.eval(), (torch.randn(2, 16),), None


def cnn_bn():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
    for module in model.modules():  # running stats that are not the identity, so folding matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval(), (torch.randn(2, 3, 12, 12),), None


class OutlierMLP(torch.nn.Module):
    """``mid`` is fed one activation channel 10^4 times larger than the rest (the outliers
    LLM.int8() is about), with small weights on it: per-tensor dynamic quantization of
    ``mid``'s input spends its 256 levels on that channel and loses all the others."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(16, 64)
        self.mid = torch.nn.Linear(64, 64)
        self.last = torch.nn.Linear(64, 10)
        gain = torch.ones(64)
        gain[0] = 1e4
        self.register_buffer("gain", gain)
        with torch.no_grad():
            self.mid.weight[:, 0] *= 1e-4

    def forward(self, x):
        hidden = torch.relu(self.first(x)) + 0.5
        return self.last(torch.relu(self.mid(hidden * self.gain)))


def outlier_mlp():
    torch.manual_seed(0)
    return OutlierMLP().eval(), (torch.randn(4, 16),), None


class OverflowMLP(torch.nn.Module):
    """``big`` makes values near 10^5, past float16's largest (65504), and ``small`` scales
    them back with weights near 10^-6, float16 subnormals with few bits. On onnxruntime's
    CPU provider a float16 Gemm computes in float32 between Casts (it has no float16 Gemm
    kernel), so ``big`` itself survives; the ReLU after it (a float16 kernel) overflows to inf,
    and ``small``'s rounded weights are off by ~3%: those two must stay float32."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(16, 32)
        self.big = torch.nn.Linear(32, 32)
        self.small = torch.nn.Linear(32, 10)
        with torch.no_grad():
            self.big.weight.mul_(2e5)
            self.small.weight.mul_(1e-5)

    def forward(self, x):
        return self.small(torch.relu(self.big(torch.relu(self.first(x)))))


def overflow_mlp():
    torch.manual_seed(0)
    return OverflowMLP().eval(), (torch.randn(2, 16),), None


def transformer(name: str):
    return getattr(transformer_zoo, name)()


CASES = {"mlp": mlp, "cnn_bn": cnn_bn, "bert": lambda: transformer("bert"), "llama": lambda: transformer("llama")}
SLOW = {"bert", "llama"}  # transformers configs: several seconds each with both exports


def case_params() -> list:
    """CASES' names for parametrize, the transformers ones marked slow."""
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in CASES]


def relative_errors(model: torch.nn.Module, inputs, path: str, batches=(1, 3)) -> list[float]:
    """The worst ||onnx - torch|| / ||torch|| over the outputs at each batch size: random
    inputs shaped like the example (integer ids within its range, masks of ones)."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    named = inputs if isinstance(inputs, dict) else dict(zip([i.name for i in session.get_inputs()], inputs))
    types = {i.name: i.type for i in session.get_inputs()}
    worst = []
    generator = torch.Generator().manual_seed(1)
    for batch in batches:
        feeds = {name: _at_batch(tensor, batch, generator) for name, tensor in named.items()}
        with torch.no_grad():
            expected = model(**feeds) if isinstance(inputs, dict) else model(*feeds.values())
        expected = _flat(expected)
        actual = session.run(None, {k: _numpy(v, types[k]) for k, v in feeds.items()})
        worst.append(max(_relative(e, a) for e, a in zip(expected, actual)))
    return worst


def _at_batch(tensor: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    shape = (batch, *tensor.shape[1:])
    if tensor.dtype.is_floating_point:
        return torch.randn(shape, generator=generator)
    low, high = int(tensor.min()), int(tensor.max())
    if low == 0 and high == 1:
        return torch.ones(shape, dtype=tensor.dtype)
    return torch.randint(low, high + 1, shape, generator=generator, dtype=tensor.dtype)


def _flat(outputs) -> list[np.ndarray]:
    if isinstance(outputs, torch.Tensor):
        return [outputs.numpy()]
    if hasattr(outputs, "to_tuple"):
        outputs = outputs.to_tuple()
    return [t.numpy() for t in outputs if isinstance(t, torch.Tensor)]


def _numpy(tensor: torch.Tensor, ort_type: str) -> np.ndarray:
    array = tensor.numpy()
    return array.astype(np.float16) if ort_type == "tensor(float16)" else array


def _relative(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = expected.astype(np.float64), actual.astype(np.float64)
    return float(np.linalg.norm(expected - actual) / np.linalg.norm(expected))
