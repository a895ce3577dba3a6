"""Parity of the scatters that combine values (ONNX ScatterElements with a reduction):
scatter with reduce, scatter_add, scatter_reduce (sum, prod, amax, amin, mean, with and
without include_self), index_add and index_copy, under fx and torch.export; a graph network's
message passing; the opset each reduction needs."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.backend.onnx import to_onnx
from graphnn.errors import UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

INDEX = torch.tensor([[0, 4, 1, 4], [1, 2, 2, 2], [3, 3, 0, 1]])  # repeats: the reductions meet

SCATTERS = {
    "scatter_reduce_add": lambda x: torch.zeros(3, 5).scatter(1, INDEX, x, reduce="add"),
    "scatter_reduce_multiply": lambda x: torch.full((3, 5), 2.0).scatter(1, INDEX, x, reduce="multiply"),
    "scatter_add": lambda x: torch.zeros(3, 5).scatter_add(1, INDEX, x),
    "scatter_add_in_place": lambda x: torch.ones(3, 5).scatter_add_(1, INDEX, x) * 2,
    **{f"scatter_reduce_{mode}": (lambda mode: lambda x: torch.ones(3, 5).scatter_reduce(1, INDEX, x, mode))(mode)
       for mode in ("sum", "prod", "amax", "amin", "mean")},
    **{f"scatter_reduce_{mode}_without_self": (lambda mode: lambda x: torch.ones(3, 5).scatter_reduce(
        1, INDEX, x, mode, include_self=False))(mode) for mode in ("sum", "prod", "amax", "amin", "mean")},
    "scatter_reduce_int_amax_without_self": lambda x: torch.ones(3, 5, dtype=torch.long).scatter_reduce(
        1, INDEX, (x * 4).long(), "amax", include_self=False).float(),
    "index_add": lambda x: torch.zeros(6, 4).index_add(0, torch.tensor([0, 2, 2]), x, alpha=2),
    "index_add_along_dim_1": lambda x: torch.ones(3, 6).index_add_(1, torch.tensor([5, 0, 5, 1]), x),
    "index_copy": lambda x: torch.zeros(5, 4).index_copy(0, torch.tensor([4, 0, 2]), x),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", SCATTERS)
def test_scatters_that_combine(name, frontend):
    torch.manual_seed(0)
    models = export_checked(Wrap(SCATTERS[name]), torch.randn(3, 4), opsets=(18,), dynamic_batch=False,
                            frontend=frontend)
    assert "ScatterElements" in onnx_ops(models[18])


class MeanAggregation(nn.Module):
    """A graph network layer: messages from each edge's source node, summed into its target
    and divided by the target's in-degree (PyG's mean aggregation, written out)."""

    def __init__(self):
        super().__init__()
        self.message = nn.Linear(8, 8)

    def forward(self, nodes, edges):
        source, target = edges
        messages = self.message(nodes)[source]
        summed = torch.zeros_like(nodes).index_add_(0, target, messages)
        degree = torch.zeros(nodes.shape[0]).scatter_add_(0, target, torch.ones_like(target, dtype=torch.float))
        return summed / degree.clamp(min=1).unsqueeze(-1)


@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_graph_network_message_passing(frontend):
    """Static: the edges name nodes by index, so another node count would not fit them."""
    torch.manual_seed(0)
    edges = torch.tensor([[0, 1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 5, 0, 3]])
    export_checked(MeanAggregation(), (torch.randn(6, 8), edges), opsets=(16, 18), dynamic_batch=False,
                   frontend=frontend)


@pytest.mark.parametrize("reduce, opset", [("sum", 16), ("amax", 18)])
def test_a_reduction_below_its_opset_is_refused_naming_the_opset(reduce, opset):
    graph = graphnn.trace(Wrap(lambda x: torch.zeros(3, 5).scatter_reduce(1, INDEX, x, reduce)), torch.randn(3, 4),
                          dynamic_batch=False)
    with pytest.raises(UnsupportedError, match=f"needs ONNX opset {opset} or newer \\(asked for {opset - 1}\\)"):
        to_onnx(graph, opset - 1)


class ImageTokens(nn.Module):
    """A vision-language model's merge: projected image features written, in order, into the
    token embeddings at the image token (LLaVA's ``inputs_embeds.masked_scatter``)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.project = nn.Linear(6, 8)

    def forward(self, ids, image):
        embeddings = self.embed(ids)
        at_image = (ids == 3).unsqueeze(-1)
        return embeddings.masked_scatter(at_image, self.project(image))


@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_masked_scatter_merges_image_features_in_order(frontend):
    torch.manual_seed(0)
    ids = torch.tensor([[1, 3, 3, 5, 6], [3, 3, 7, 8, 9]])
    export_checked(ImageTokens(), (ids, torch.randn(2, 2, 6)), dynamic_batch=False, frontend=frontend)


@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_masked_scatter_with_a_random_mask(frontend):
    """The mask is an input, drawn anew by parity: the source has an element for every position."""
    torch.manual_seed(0)
    fill = Wrap(lambda x, mask: x.masked_scatter(mask, torch.arange(15.0).view(3, 5)))
    export_checked(fill, (torch.randn(3, 5), torch.rand(3, 5) > 0.5), frontend=frontend)
