"""An ATen op without a rule, under the export frontend, is computed by torch's own
decomposition of that op alone: the layer it sits in stays one row of ``graph``, at its
line, and the file matches torch; an op torch cannot decompose into ruled ops is refused
naming the op, the layer and the line."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import UnsupportedError
from graphnn.summary import layer_rows
from tests.parity_utils import export_checked


class LossLayer(nn.Module):
    """A torch.nn layer graphnn has no rule for, whose ATen op has none either
    (``aten.multilabel_soft_margin_loss``, ``aten.hinge_embedding_loss``)."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.fc = nn.Linear(5, 5)
        self.loss = loss

    def forward(self, x):
        return self.loss(self.fc(x), x.sign())


LOSSES = {"multilabel_soft_margin": nn.MultiLabelSoftMarginLoss(reduction="none"),
          "hinge_embedding": nn.HingeEmbeddingLoss(reduction="none")}


@pytest.mark.parametrize("name", LOSSES)
def test_a_decomposed_op_inside_a_layer_matches_torch(name):
    export_checked(LossLayer(LOSSES[name]), torch.randn(2, 5), frontend="export")


def test_graph_shows_the_decomposed_op_as_one_row_under_its_layer():
    graph = graphnn.trace(LossLayer(LOSSES["hinge_embedding"]), torch.randn(2, 5), frontend="export")
    loss_nodes = [node for node in graph.nodes() if node.module == "loss"]
    assert len(loss_nodes) > 1  # several ATen ops...
    rows = [row for row in layer_rows(graph) if row[0] == "loss"]
    assert len(rows) == 1  # ...one row: the layer, its class and the user's line
    assert rows[0][1].startswith("HingeEmbeddingLoss") and "test_decompose.py:" in rows[0][4]


class Functions(nn.Module):
    def forward(self, x):
        return torch.diff(x, dim=-1).sum(-1, keepdim=True) * torch.square(x)


def test_decomposed_functions_keep_their_line_and_dynamic_batch():
    export_checked(Functions(), torch.randn(2, 5), frontend="export")
    graph = graphnn.trace(Functions(), torch.randn(2, 5), frontend="export")
    assert all(node.source and "test_decompose.py:" in node.source for node in graph.nodes() if node.op != "constant")
    assert graph.values[graph.outputs[0]].shape == ("batch", 5)


@torch.library.custom_op("graphnn_test::opaque_twice", mutates_args=())
def opaque_twice(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@opaque_twice.register_fake
def _(x):
    return torch.empty_like(x)


class CustomOpLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5)

    def forward(self, x):
        return opaque_twice(self.fc(x))


def test_an_op_torch_cannot_decompose_is_refused_naming_it_and_the_line():
    with pytest.raises(UnsupportedError, match=r"test_decompose.py:\d+\): graphnn_test.opaque_twice.default is not supported"):
        graphnn.trace(CustomOpLayer(), torch.randn(2, 5), frontend="export")


# ------------------------------------------------------------------ auto: a call fx has no rule for
class HingeFunction(nn.Module):
    """``torch.hinge_embedding_loss``: no rule under fx; torch.export decomposes its ATen op."""

    def forward(self, x):
        return torch.hinge_embedding_loss(x, x.sign(), 1.0, 0) * 2


@pytest.mark.parametrize("model", [HingeFunction(), LossLayer(LOSSES["hinge_embedding"])],
                         ids=["function", "layer"])
def test_auto_falls_back_to_export_on_a_call_without_a_rule(model):
    notes = []
    graph = graphnn.trace(model, torch.randn(2, 5), log=notes.append)
    assert graph.frontend == "export"
    assert len(notes) == 1 and "is not supported by graphnn yet" in notes[0]
    assert notes[0].endswith("using the torch.export frontend, which decomposes ops without a rule")
    export_checked(model, torch.randn(2, 5))


def test_fx_alone_still_refuses_the_call_naming_it():
    with pytest.raises(UnsupportedError, match=r"function torch.hinge_embedding_loss is not supported"):
        graphnn.trace(HingeFunction(), torch.randn(2, 5), frontend="fx")


class ThroughNumpy(nn.Module):
    """fx records ``.numpy()`` as a call without a rule; torch.export cannot trace it at all."""

    def forward(self, x):
        return x.numpy()


def test_when_export_cannot_trace_the_model_fx_refusal_stands():
    with pytest.raises(UnsupportedError, match=r"tensor method .numpy\(\) is not supported by graphnn yet$"):
        graphnn.trace(ThroughNumpy(), torch.randn(2, 5))


class FractionalPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.FractionalMaxPool2d(2, output_size=3)

    def forward(self, x):
        return self.pool(x)


def test_when_export_refuses_too_both_refusals_are_named():
    with pytest.raises(UnsupportedError, match=r"pool \(test_decompose.py:\d+\): layer nn.FractionalMaxPool2d is not "
                                               r"supported .*; under torch.export: pool \(.*\): aten.\w+.\w+ is not"):
        graphnn.trace(FractionalPool(), torch.randn(1, 2, 6, 6))
