"""Rules for matrix functions and matrix structure: ``torch.det`` / ``linalg.det``,
``slogdet`` and ``logdet`` (ONNX Det), ``diagonal`` / ``diag`` / ``trace`` (the diagonal
read from the flattened matrix by index: exact, infinities included), ``diag_embed`` (a
Where with an identity mask) and ``kron`` (broadcast product of the interleaved dims).

The diagonal's length comes from the matrix's static sizes; a dynamic one is refused by name.
"""
import torch

from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.rules import Ref, call_rule, function_rule, method_rule
from graphnn.ops.linalg import DET



@function_rule(torch.det, torch.linalg.det)
@method_rule("det")
def det(b, x, *, out=None):
    return b.emit(DET, [x])


@function_rule(torch.slogdet, torch.linalg.slogdet)
@method_rule("slogdet")
def slogdet(b, x, *, out=None):
    """(sign, log|det|) from the determinant itself (torch's LU gives the same for the small,
    well-conditioned matrices a model holds; an overflowing det would not)."""
    value = det(b, x)
    magnitude = call_rule(torch.log, b, call_rule(torch.abs, b, value))
    return torch.return_types.slogdet((call_rule(torch.sign, b, value), magnitude))


@function_rule(torch.logdet)
@method_rule("logdet")
def logdet(b, x):
    """log(det): NaN for a negative determinant, as torch."""
    return call_rule(torch.log, b, det(b, x))


def _static(b, x, dim: int, what: str) -> int:
    size = b.shape(x)[dim]
    if not isinstance(size, int):
        raise b.unsupported(f"{what} of a matrix whose dim {dim} is only known at run time ({size})")
    return size


@function_rule(torch.diagonal)
@method_rule("diagonal")
def diagonal(b, x, offset=0, dim1=0, dim2=1):
    return matrix_diagonal(b, x, offset, dim1, dim2)


def matrix_diagonal(b, x, offset=0, dim1=0, dim2=1):
    """The (offset) diagonal of the dim1 x dim2 matrices, as the last dim: the two dims moved
    to the end, flattened, and the diagonal's positions picked."""
    dim1, dim2 = checked_dim(b, x, dim1), checked_dim(b, x, dim2)
    if dim1 == dim2:
        raise b.shape_error(f"expects two different dims, gets dim1 = dim2 = {dim1}")
    rows, columns = _static(b, x, dim1, "diagonal"), _static(b, x, dim2, "diagonal")
    rest = [d for d in range(b.rank(x)) if d not in (dim1, dim2)]
    order = [*rest, dim1, dim2]
    matrices = call_rule(torch.permute, b, x, order) if order != list(range(b.rank(x))) else x
    first_row, first_column = max(0, -offset), max(0, offset)
    length = max(0, min(rows - first_row, columns - first_column))
    positions = [(first_row + i) * columns + first_column + i for i in range(length)]
    flat = call_rule(torch.flatten, b, matrices, -2)
    return call_rule(torch.index_select, b, flat, -1, b.constant(torch.tensor(positions, dtype=torch.int64)))


@function_rule(torch.trace)
@method_rule("trace")
def trace(b, x):
    if b.rank(x) != 2:
        raise b.shape_error(f"expects a 2-d matrix, gets {b.rank(x)}-d")
    return call_rule(torch.sum, b, matrix_diagonal(b, x))


@function_rule(torch.diag_embed)
@method_rule("diag_embed")
def diag_embed(b, x, offset=0, dim1=-2, dim2=-1):
    """x's last dim on the diagonal of new trailing (n, n) matrices, zeros elsewhere."""
    if offset != 0 or (dim1, dim2) not in ((-2, -1), (b.rank(x) - 1, b.rank(x))):
        raise b.unsupported("diag_embed with an offset or other dims than the last two")
    n = _static(b, x, b.rank(x) - 1, "diag_embed")
    identity = b.constant(torch.eye(n, dtype=torch.bool))
    column = call_rule(torch.unsqueeze, b, x, -1)  # x[..., i, None] broadcast along j
    return call_rule(torch.where, b, identity, column, 0)


@function_rule(torch.diag)
@method_rule("diag")
def diag(b, x, diagonal=0, *, out=None):
    """1-d: the matrix with x on its diagonal; 2-d: the diagonal."""
    if b.rank(x) == 2:
        return matrix_diagonal(b, x, diagonal)
    if b.rank(x) != 1:
        raise b.shape_error(f"expects a 1-d or 2-d tensor, gets {b.rank(x)}-d")
    if diagonal != 0:
        raise b.unsupported("diag of a vector with an offset")
    return diag_embed(b, x)


@function_rule(torch.kron)
def kron(b, a, other, *, out=None):
    """Every a[i..] * other[j..] at (i * other's size + j) along each dim: the two tensors'
    dims interleaved by broadcasting, then merged pairwise; the leading dim may be dynamic."""
    rank = max(b.rank(a), b.rank(other))
    a, other = (_with_rank(b, t, rank) for t in (a, other))
    left = call_rule(torch.reshape, b, a, _interleaved(b, a, rank, first=True))
    right = call_rule(torch.reshape, b, other, _interleaved(b, other, rank, first=False))
    product = call_rule(torch.mul, b, left, right)
    sizes = [_merged(b, a, other, d) for d in range(rank)]
    if any(not isinstance(s, int) for s in sizes[1:]):
        raise b.unsupported("kron of tensors with a dynamic dim other than the first")
    return call_rule(torch.reshape, b, product, [-1 if not isinstance(sizes[0], int) else sizes[0], *sizes[1:]])


def _with_rank(b, x, rank: int) -> Ref:
    """Leading dims of 1, as kron treats the tensor of lower rank."""
    missing = rank - b.rank(x)
    return call_rule(torch.reshape, b, x, [1] * missing + list(b.shape(x))) if missing else x


def _interleaved(b, x, rank: int, first: bool) -> list:
    """x's shape with a 1 after (first) or before each dim: (n0, 1, n1, 1, ...)."""
    sizes = [d if isinstance(d, int) else -1 for d in b.shape(x)]
    return [s for d in sizes for s in ((d, 1) if first else (1, d))]


def _merged(b, a, other, dim: int):
    sizes = (b.shape(a)[dim], b.shape(other)[dim])
    return sizes[0] * sizes[1] if all(isinstance(s, int) for s in sizes) else None
