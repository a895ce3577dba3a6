"""An op added from outside graphnn (tests/toy_op.py: one OpDef, one rule, one lowering)
exports with parity, shows in the graph view with its family and MACs, and is gone again
afterwards."""
import contextlib
import importlib
import json
import sys

import pytest
import torch
from torch import nn

import graphnn
from graphnn.backend.onnx import registry
from graphnn.errors import UnsupportedError
from graphnn.frontend.rules import forget_function_rule, function_rule_for
from graphnn.ops import opdef
from graphnn.ops.opdef import find_opdef, undefine
from graphnn.view.from_ir import view_of_graph
from graphnn.view.jsonview import to_json

TOY = "tests.toy_op"


@contextlib.contextmanager
def toy_registered():
    """The toy op's module, imported (so registered) inside, unregistered on the way out."""
    sys.modules.pop(TOY, None)
    module = importlib.import_module(TOY)
    try:
        yield module
    finally:
        registry.unregister(module.SOFTSIGN2)
        forget_function_rule(module.softsign2)
        undefine(module.SOFTSIGN2)
        sys.modules.pop(TOY, None)


@pytest.fixture
def toy():
    with toy_registered() as module:
        yield module


def toy_model(toy):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            return toy.softsign2(self.fc(x))

    torch.manual_seed(0)
    return Net().eval()


def test_toy_op_exports_with_parity(toy):
    model, x = toy_model(toy), torch.randn(2, 6)
    result = graphnn.export(model, x)
    assert [n.op_type for n in result.onnx_model.graph.node][-2:] == ["Softsign", "Mul"]
    report = graphnn.check_parity(model, x, result.onnx_model)
    assert report.ok, report.summary()


def test_toy_op_shows_its_family_and_macs(toy):
    model, x = toy_model(toy), torch.randn(2, 6)
    view = json.loads(to_json(view_of_graph(graphnn.trace(model, x), model)))
    node = next(n for n in view["nodes"] if n["op"] == "softsign2")
    assert node["family"] == "toy_op"
    assert node["macs"] == 2 * 4


def test_toy_op_is_gone_afterwards():
    with toy_registered() as module:
        function, definition = module.softsign2, module.SOFTSIGN2
        assert function_rule_for(function) is not None and registry.lowered(definition)
    assert TOY not in sys.modules
    assert function_rule_for(function) is None
    assert not registry.lowered(definition)
    assert find_opdef("softsign2") is None
    with pytest.raises(UnsupportedError, match="'softsign2'"):
        opdef("softsign2")
