"""The fx frontend: canonical ops, source lines, containers, modes."""
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.loader import load_model_file
from tests.conftest import ROOT



def line_of(path, text):
    with open(path) as handle:
        return next(i for i, line in enumerate(handle, 1) if text in line)


def test_source_lines_point_at_the_users_forward():
    path = os.path.join(ROOT, "fixtures", "simple_cnn.py")
    loaded = load_model_file(path)
    inputs = loaded.example_inputs
    graph = graphnn.trace(loaded.model, inputs)
    sources = {n.name: n.source for n in graph.nodes()}
    assert sources["conv1"] == f"simple_cnn.py:{line_of(path, 'self.conv1(x)')}"
    assert sources["fc"] == f"simple_cnn.py:{line_of(path, 'x = self.fc(x)')}"


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv(x)) + x  # BLOCK LINE


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(), Block())

    def forward(self, x):
        return self.blocks(x).relu()


def test_nested_modules_keep_paths_and_inner_lines():
    graph = graphnn.trace(Net(), torch.randn(1, 4, 5, 5))
    convs = [n for n in graph.nodes() if n.op == "conv2d"]
    assert [n.module for n in convs] == ["blocks.0.conv", "blocks.1.conv"]
    assert {n.source for n in convs} == {f"test_trace.py:{line_of(__file__, 'BLOCK LINE')}"}


def test_spellings_canonicalise_to_one_op():
    class Spellings(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(x) + F.relu(x) + torch.relu(x) + x.relu()

    graph = graphnn.trace(Spellings(), torch.randn(2, 3))
    assert graph.ops().count("relu") == 4


def test_parameter_containers_become_constants_named_by_path():
    loaded = load_model_file(os.path.join(ROOT, "fixtures", "parameter_containers.py"))
    inputs = loaded.example_inputs
    graph = graphnn.trace(loaded.model, inputs)
    constants = [n.name for n in graph.nodes() if n.op == "constant"]
    assert {"weights.0", "weights.1", "biases.bias1", "biases.bias2"} <= set(constants)


def test_batch_dim_is_symbolic_unless_static():
    graph = graphnn.trace(nn.Linear(3, 2), torch.randn(4, 3))
    assert graph.values["input"].shape == ("batch", 3) and graph.symbols == {"batch": 4}
    static = graphnn.trace(nn.Linear(3, 2), torch.randn(4, 3), dynamic_batch=False)
    assert static.values["input"].shape == (4, 3) and static.symbols == {}


def _windowed(x, window: int, shift: int):
    """Kept whole by torch.fx.wrap, as torchvision's Swin keeps its window attention: its body
    reads shapes as Python ints, branches on them and builds a mask in place."""
    B, L, C = x.shape
    pad = (window - L % window) % window
    x = F.pad(x, (0, 0, 0, pad))
    _, padded, _ = x.shape
    if window >= padded:
        shift = 0
    mask = x.new_zeros((padded,))
    if shift > 0:
        x = torch.roll(x, -shift, dims=1)
        mask[-shift:] = 1.0
    windows = x.view(B * (padded // window), window, C)
    scores = windows @ windows.transpose(1, 2) / C ** 0.5
    scores = scores.view(x.size(0), padded // window, window, window) - mask.view(padded // window, 1, window) * 100
    out = scores.softmax(-1).view(-1, window, window) @ windows
    return out.reshape(B, padded, C)[:, :L]


torch.fx.wrap("_windowed")


def _columns_summed(x):  # iterates a tensor: neither fx nor the trace through it can
    return sum(column for column in x.t())


torch.fx.wrap("_columns_summed")


class _WindowBlock(nn.Module):
    def __init__(self, shift):
        super().__init__()
        self.proj = nn.Linear(6, 6)
        self.shift = shift

    def forward(self, x):
        return self.proj(_windowed(x, 4, self.shift))


@pytest.mark.parametrize("shift", [0, 2])
def test_a_function_fx_keeps_whole_is_traced_through_under_fx(shift):
    """No fallback to torch.export (seconds on a Swin): the body runs on shape-aware proxies,
    its static dims as ints, the batch as a traced size, so parity holds at other batches."""
    model = nn.Sequential(_WindowBlock(shift), nn.ReLU()).eval()
    notes = []
    graph = graphnn.trace(model, torch.randn(2, 10, 6), log=notes.append)
    assert graph.frontend == "fx" and not notes
    assert ("concat" in graph.ops()) == bool(shift)  # torch.roll: two slices joined
    assert {n.module for n in graph.nodes() if n.op == "matmul"} == {"0"}  # attributed to the caller
    result = graphnn.export(model, torch.randn(2, 10, 6))
    assert result.report.ok and result.graph.frontend == "fx" and len(result.report.runs) >= 2


def _half_doubled(x):  # writes through a view, which the replay cannot follow
    y = x.clone()
    y[:, :2].mul_(2)
    return y


torch.fx.wrap("_half_doubled")


class _SumsColumns(nn.Module):
    def forward(self, x):
        return _columns_summed(x) + 1  # fx keeps a wrapped function whole only when named globally


class _DoublesHalf(nn.Module):
    def forward(self, x):
        return _half_doubled(x) + 1


@pytest.mark.parametrize("model, why", [(_SumsColumns, "iterated"), (_DoublesHalf, "in-place mul_")])
def test_a_function_fx_keeps_whole_and_cannot_be_traced_through_falls_back_to_torch_export(model, why):
    notes = []
    graph = graphnn.trace(model(), torch.randn(3, 5), log=notes.append)
    assert graph.frontend == "export"
    assert "kept the Python function" in notes[0] and why in notes[0], notes
    result = graphnn.export(model(), torch.randn(3, 5))
    assert result.report.ok and result.graph.frontend == "export"


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.fc(x).relu()
        return (y + x) * 0.5


class _Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1, self.b2, self.head = _Block(), _Block(), nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.b2(self.b1(x)).tanh())


@pytest.mark.parametrize("frontend", ["fx", "export"])
def test_layer_table_has_one_row_per_layer_call(frontend):
    """The functional ops of a user's module (relu, add, mul in a Block) are one row with the
    module's path and class, under both frontends, not one row per op."""
    from graphnn.summary import layer_rows

    graph = graphnn.trace(_Blocks(), torch.randn(2, 8), frontend=frontend)
    rows = [(name, kind) for name, kind, *_ in layer_rows(graph)]
    assert rows == [("x", "input"), ("b1.fc", "Linear"), ("b1", "_Block"), ("b2.fc", "Linear"), ("b2", "_Block"),
                    ("tanh", "tanh"), ("head", "Linear")]
