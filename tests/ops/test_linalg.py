"""Parity of the matrix functions and matrix structure ops: det / slogdet / logdet (ONNX Det),
diagonal / diag / trace (the diagonal read by index), diag_embed and kron, under fx and
torch.export."""
import pytest
import torch

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

DETERMINANTS = {
    "det": lambda x: torch.det(x),
    "linalg_det_method": lambda x: torch.linalg.det(x) + x.det(),
    "slogdet": lambda x: sum(torch.linalg.slogdet(x)),
    "logdet_of_positive_definite": lambda x: torch.logdet(x @ x.transpose(-1, -2) + torch.eye(3)),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", DETERMINANTS)
def test_determinants(name, frontend):
    torch.manual_seed(0)
    models = export_checked(Wrap(DETERMINANTS[name]), torch.randn(2, 3, 3), frontend=frontend)
    assert "Det" in onnx_ops(models[18])


DIAGONALS = {
    "last_two_dims": lambda x: torch.diagonal(x, dim1=-2, dim2=-1),
    "offset_above": lambda x: x.diagonal(1, 1, 2),
    "offset_below_swapped_dims": lambda x: torch.diagonal(x, -2, 2, 1),
    "batch_dim_in_the_middle": lambda x: torch.diagonal(x.permute(1, 0, 2), 0, 0, 2),
    "keeps_infinities": lambda x: torch.diagonal(x.masked_fill(x > 1, float("inf")), dim1=1, dim2=2),
    "trace": lambda x: torch.trace(x[0]) + x,
    "diag_of_a_matrix": lambda x: torch.diag(x[0], 1) + x[:, 0, :3],
    "diag_of_a_vector": lambda x: torch.diag(x[0, 0]) + x,
    "diag_embed": lambda x: torch.diag_embed(x[:, 0]),
    "diag_embed_method": lambda x: x.diag_embed().sum(-1),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", DIAGONALS)
def test_diagonals(name, frontend):
    torch.manual_seed(0)
    export_checked(Wrap(DIAGONALS[name]), torch.randn(2, 4, 4), frontend=frontend)


KRON = {
    "with_identity": (lambda x: torch.kron(x, torch.eye(2)), (2, 3)),
    "rank_3_with_lower_rank": (lambda x: torch.kron(x, torch.arange(6.0).view(2, 3)), (2, 3, 2)),
}


@pytest.mark.parametrize("name", KRON)
def test_kron(name):
    """Under fx with a dynamic batch; torch.export decomposes kron itself and pins the batch,
    so it runs static there."""
    torch.manual_seed(0)
    function, shape = KRON[name]
    export_checked(Wrap(function), torch.randn(*shape))
    export_checked(Wrap(function), torch.randn(*shape), frontend="export", dynamic_batch=False)


def test_det_of_non_square_matrices_is_a_shape_error():
    with pytest.raises(ShapeError, match="expects square matrices"):
        graphnn.trace(Wrap(lambda x: torch.det(x)), torch.randn(2, 3, 4))


def test_diagonal_along_the_dynamic_batch_is_refused_by_name():
    with pytest.raises(UnsupportedError, match="diagonal of a matrix whose dim 0 is only known at run time"):
        graphnn.trace(Wrap(lambda x: torch.diagonal(x)), torch.randn(3, 3))
