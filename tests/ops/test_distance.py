"""Parity of cosine similarity, pairwise distance (functional, torch.* and layer spellings),
including torch 2.x's eps semantics (each norm clamped on its own), and torch.cdist."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError
from tests.parity_utils import Wrap, export_checked

COSINE = {  # name: (fn, shape of x, shape of y)
    "functional": (lambda x, y: F.cosine_similarity(x, y), (3, 8), (3, 8)),
    "torch": (lambda x, y: torch.cosine_similarity(x, y, dim=-1), (3, 4, 8), (3, 4, 8)),
    "dim_0": (lambda x, y: F.cosine_similarity(x, y, 0), (3, 8), (3, 8)),
    "broadcast": (lambda x, y: F.cosine_similarity(x, y, dim=-1), (3, 4, 8), (1, 8)),
    "broadcast_rank": (lambda x, y: F.cosine_similarity(x[:, :, None], y[:, None], dim=-1), (3, 4, 8), (3, 5, 8)),
    "eps": (lambda x, y: F.cosine_similarity(x, y, eps=0.5), (3, 8), (3, 8)),
}


class _Layer(nn.Module):
    """A two-input layer inside a model (fx keeps it as one call)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, y):
        return self.layer(x, y)


@pytest.mark.parametrize("name", COSINE)
def test_cosine_similarity(name):
    torch.manual_seed(0)
    fn, x_shape, y_shape = COSINE[name]
    export_checked(Wrap(fn), (torch.randn(*x_shape), torch.randn(*y_shape)))


@pytest.mark.parametrize("layer", [nn.CosineSimilarity(), nn.CosineSimilarity(dim=-1, eps=1e-6)])
def test_cosine_similarity_layer(layer):
    torch.manual_seed(0)
    export_checked(_Layer(layer), (torch.randn(3, 8), torch.randn(3, 8)))


def test_cosine_eps_clamps_each_norm():
    """A tiny x1: torch divides by max(||x1||, eps) * max(||x2||, eps), not
    max(||x1|| * ||x2||, eps) as its docs say; the two differ by 2x here."""
    x = torch.full((2, 4), 1e-9)
    y = torch.ones(2, 4)
    assert torch.allclose(F.cosine_similarity(x, y), torch.full((2,), 0.2))
    export_checked(Wrap(lambda a, b: F.cosine_similarity(a, b)), (x, y), atol=1e-6)


PAIRWISE = {  # name: (fn, shape of x, shape of y)
    "functional": (lambda x, y: F.pairwise_distance(x, y), (3, 8), (3, 8)),
    "torch": (lambda x, y: torch.pairwise_distance(x, y), (3, 8), (3, 8)),
    "p1_keepdim": (lambda x, y: F.pairwise_distance(x, y, p=1, keepdim=True), (3, 8), (3, 8)),
    "p3": (lambda x, y: F.pairwise_distance(x, y, 3.0), (3, 4, 8), (3, 4, 8)),
    "p_inf": (lambda x, y: F.pairwise_distance(x, y, float("inf")), (3, 8), (3, 8)),
    "broadcast": (lambda x, y: F.pairwise_distance(x, y, eps=0.1), (3, 8), (8,)),
}


@pytest.mark.parametrize("name", PAIRWISE)
def test_pairwise_distance(name):
    torch.manual_seed(0)
    fn, x_shape, y_shape = PAIRWISE[name]
    export_checked(Wrap(fn), (torch.randn(*x_shape), torch.randn(*y_shape)))


@pytest.mark.parametrize("layer", [nn.PairwiseDistance(), nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)])
def test_pairwise_distance_layer(layer):
    torch.manual_seed(0)
    export_checked(_Layer(layer), (torch.randn(3, 8), torch.randn(3, 8)))


def test_int_inputs_are_promoted_to_float():
    torch.manual_seed(0)
    export_checked(Wrap(lambda x, y: F.cosine_similarity(x.long(), y)), (torch.randn(3, 8) * 5, torch.randn(3, 8)))


def test_mismatched_inputs_are_a_shape_error():
    with pytest.raises(ShapeError, match="cannot broadcast"):
        graphnn.trace(Wrap(lambda x, y: F.cosine_similarity(x, y)), (torch.randn(3, 8), torch.randn(3, 7)))


CDIST = {  # name: (fn, shape of x, shape of y)
    "p2_batched": (lambda x, y: torch.cdist(x, y), (3, 5, 8), (3, 6, 8)),
    "p2_past_25_rows": (lambda x, y: torch.cdist(x, y), (3, 4, 8), (3, 30, 8)),  # torch's matmul expansion
    "p1": (lambda x, y: torch.cdist(x, y, p=1), (3, 5, 8), (3, 6, 8)),
    "p_inf": (lambda x, y: torch.cdist(x, y, p=float("inf")), (3, 5, 8), (3, 6, 8)),
    "p3_2d": (lambda x, y: torch.cdist(x, y, p=3.0), (3, 8), (6, 8)),
    "broadcast_batch": (lambda x, y: torch.cdist(x, y), (3, 5, 8), (1, 6, 8)),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", CDIST)
def test_cdist(name, frontend):
    torch.manual_seed(0)
    fn, x_shape, y_shape = CDIST[name]
    export_checked(Wrap(fn), (torch.randn(*x_shape), torch.randn(*y_shape)), frontend=frontend)


class NearestCode(nn.Module):
    """A VQ-VAE's quantiser: the nearest codebook row of each vector, by cdist."""

    def __init__(self):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(12, 8))

    def forward(self, z):
        distances = torch.cdist(z, self.codebook)
        return distances.argmin(-1), self.codebook[distances.argmin(-1)]


@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_cdist_codebook_lookup(frontend):
    torch.manual_seed(0)
    export_checked(NearestCode(), torch.randn(3, 5, 8), frontend=frontend)


def test_cdist_of_unequal_row_sizes_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"expects \(\.\.\., P, M\) and \(\.\.\., R, M\) inputs"):
        graphnn.trace(Wrap(lambda x, y: torch.cdist(x, y)), (torch.randn(3, 8), torch.randn(4, 7)))
