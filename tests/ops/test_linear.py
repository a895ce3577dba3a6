"""Parity of dense layers and products: F.linear on parameters and on computed weights,
matmul spellings (incl. 1-d operands), addmm / baddbmm, nn.Bilinear / F.bilinear and
torch.einsum."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import CACHE_DIMS, Wrap, cache_shaped_inputs, export_checked, onnx_ops


class FunctionalLinear(nn.Module):
    def __init__(self, bias=True, computed=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 8))
        self.bias = nn.Parameter(torch.randn(5)) if bias else None
        self.computed = computed

    def forward(self, x):
        weight = self.weight * 0.5 if self.computed else self.weight
        return F.linear(x, weight, self.bias)


def test_functional_linear_on_parameters_is_the_linear_op():
    torch.manual_seed(0)
    model = FunctionalLinear()
    graph = graphnn.trace(model, torch.randn(2, 8))
    assert "linear" in graph.ops()
    models = export_checked(model, torch.randn(2, 8))
    assert onnx_ops(models[18]) == ["Gemm"]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("computed", [True, False])
def test_functional_linear_3d(bias, computed):
    torch.manual_seed(0)
    export_checked(FunctionalLinear(bias, computed), torch.randn(2, 3, 8))


def test_functional_linear_computed_weight_uses_matmul():
    torch.manual_seed(0)
    models = export_checked(FunctionalLinear(computed=True), torch.randn(2, 8))
    assert onnx_ops(models[18]) == ["Mul", "Transpose", "MatMul", "Add"]


PRODUCTS = {  # name: (fn, shapes)
    "matmul": (lambda x, y: torch.matmul(x, y), [(2, 3, 4), (2, 4, 5)]),
    "@": (lambda x, y: x @ y, [(2, 3, 4), (4, 5)]),
    "x.matmul": (lambda x, y: x.matmul(y), [(2, 1, 3, 4), (3, 4, 2)]),
    "mm": (lambda x, y: torch.mm(x, y), [(2, 4), (4, 5)]),
    "x.mm": (lambda x, y: x.mm(y), [(2, 4), (4, 5)]),
    "bmm": (lambda x, y: torch.bmm(x, y), [(2, 3, 4), (2, 4, 5)]),
    "x.bmm": (lambda x, y: x.bmm(y), [(2, 3, 4), (2, 4, 5)]),
    "matrix@vector": (lambda x, y: x @ y, [(2, 3, 4), (4,)]),
    "vector@matrix": (lambda x, y: y @ x, [(2, 4, 3), (4,)]),
    "int_float": (lambda x, y: x.long().float() @ y, [(2, 4), (4, 3)]),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_matrix_products(name):
    torch.manual_seed(0)
    fn, shapes = PRODUCTS[name]
    export_checked(Wrap(fn), tuple(torch.randn(*s) for s in shapes))


ADDMM = {
    "addmm": (lambda b, x, y: torch.addmm(b, x, y), [(5,), (2, 4), (4, 5)]),
    "addmm_scaled": (lambda b, x, y: torch.addmm(b, x, y, beta=0.5, alpha=2.0), [(2, 5), (2, 4), (4, 5)]),
    "x.addmm": (lambda b, x, y: b.addmm(x, y, alpha=3), [(2, 5), (2, 4), (4, 5)]),
    "baddbmm": (lambda b, x, y: torch.baddbmm(b, x, y, beta=2), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    "beta_zero": (lambda b, x, y: torch.addmm(b, x, y, beta=0), [(2, 5), (2, 4), (4, 5)]),
}


@pytest.mark.parametrize("name", ADDMM)
def test_addmm(name):
    torch.manual_seed(0)
    fn, shapes = ADDMM[name]
    export_checked(Wrap(fn), tuple(torch.randn(*s) for s in shapes))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(2,), (2, 3)])
def test_bilinear_layer_uses_einsum(bias, shape):
    torch.manual_seed(0)
    models = export_checked(_BilinearModel(bias), (torch.randn(*shape, 4), torch.randn(*shape, 6)))
    assert onnx_ops(models[13])[0] == "Einsum"


class _BilinearModel(nn.Module):
    def __init__(self, bias=True, functional=False):
        super().__init__()
        self.bilinear = nn.Bilinear(4, 6, 3, bias=bias)
        self.functional = functional

    def forward(self, x, y):
        if self.functional:
            return F.bilinear(x, y, self.bilinear.weight, self.bilinear.bias)
        return self.bilinear(x, y)


def test_functional_bilinear():
    torch.manual_seed(0)
    export_checked(_BilinearModel(functional=True), (torch.randn(2, 4), torch.randn(2, 6)))


def test_bare_bilinear_layer():
    torch.manual_seed(0)
    export_checked(nn.Bilinear(4, 6, 3), (torch.randn(2, 4), torch.randn(2, 6)))


EINSUM = {  # name: (fn, shapes)
    "batched_matmul": (lambda x, y: torch.einsum("bij,bjk->bik", x, y), [(2, 3, 4), (2, 4, 5)]),
    "implicit": (lambda x, y: torch.einsum("bij,bjk", x, y), [(2, 3, 4), (2, 4, 5)]),
    "operand_list": (lambda x, y: torch.einsum("bi,bj->bij", [x, y]), [(2, 3), (2, 4)]),
    "ellipsis": (lambda x, y: torch.einsum("...ij,...jk->...ik", x, y), [(2, 3, 4), (2, 4, 5)]),
    "ellipsis_implicit": (lambda x, y: torch.einsum("...ij,jk", x, y), [(2, 3, 4), (4, 5)]),
    "sum_out": (lambda x, y: torch.einsum("bij->b", x), [(2, 3, 4), (1,)]),
    "transpose": (lambda x, y: torch.einsum("b i j -> b j i", x), [(2, 3, 4), (1,)]),
    "attention": (lambda x, y: torch.einsum("bhqd,bhkd->bhqk", x, y), [(2, 2, 3, 4), (2, 2, 5, 4)]),
}


@pytest.mark.parametrize("name", EINSUM)
def test_einsum(name):
    torch.manual_seed(0)
    fn, shapes = EINSUM[name]
    models = export_checked(Wrap(fn), tuple(torch.randn(*s) for s in shapes))
    assert onnx_ops(models[18]) == ["Einsum"]


def test_bad_matmul_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"multiplies \(batch, 3\) by \(4, 5\): inner dims 3 and 4 differ"):
        graphnn.trace(Wrap(lambda x, y: x @ y), (torch.randn(2, 3), torch.randn(4, 5)))


def test_bad_linear_input_is_a_shape_error():
    with pytest.raises(ShapeError, match="expects 8 input features, gets 6"):
        graphnn.trace(FunctionalLinear(), torch.randn(2, 6))


def test_bad_einsum_is_a_shape_error():
    with pytest.raises(ShapeError, match="subscript 'j' of sizes 4 and 3"):
        graphnn.trace(Wrap(lambda x, y: torch.einsum("ij,jk->ik", x, y)), (torch.randn(2, 4), torch.randn(3, 5)))


def test_functional_bilinear_on_computed_weight_is_unsupported():
    layer = nn.Bilinear(4, 6, 3)
    with pytest.raises(UnsupportedError, match="F.bilinear with a weight or bias computed"):
        graphnn.trace(Wrap(lambda x, y: F.bilinear(x, y, layer.weight * 2, layer.bias), layer),
                      (torch.randn(2, 4), torch.randn(2, 6)))


class TiedHead(nn.Module):
    """A language model's head sharing the token embedding's weight (GPT-2)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.head = nn.Linear(8, 20, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(torch.tanh(self.embed(ids)))


def test_tied_linear_weight_is_stored_once():
    torch.manual_seed(0)
    models = export_checked(TiedHead(), torch.randint(0, 20, (2, 5)))
    shapes = [tuple(i.dims) for i in models[18].graph.initializer]
    assert shapes.count((20, 8)) == 1 and (8, 20) not in shapes, shapes
    assert onnx_ops(models[18]) == ["Gather", "Tanh", "Transpose", "MatMul"]


def test_matmul_inner_dims_equal_by_the_cache_convention():
    """A mask over total_sequence_length times keys over past_sequence_length+sequence_length."""
    def pooled(x, mask, past):
        return mask[:, None, :].to(x.dtype) @ torch.cat([past, x], 1)
    export_checked(Wrap(pooled), cache_shaped_inputs(), dynamic_dims=CACHE_DIMS)


class GroupedExperts(nn.Module):
    """transformers' grouped_mm MoE experts: tokens sorted by expert, offsets from histc, each
    group of rows times its expert's weight."""

    def __init__(self, grouped_mm):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 8, 16))
        self.grouped_mm = grouped_mm

    def forward(self, x, logits):
        expert_ids = torch.topk(logits, 2, dim=-1).indices.reshape(-1)
        sorted_ids, perm = torch.sort(expert_ids)
        offsets = torch.cumsum(torch.histc(sorted_ids.float(), bins=4, min=0, max=3), 0, dtype=torch.int32)
        return self.grouped_mm(x[perm // 2], self.weight, offsets)


def _transformers_fallback(x, weight, offsets):
    import transformers.integrations.moe  # noqa: F401  registers torch.ops.transformers
    return torch.ops.transformers.grouped_mm_fallback(x, weight, offs=offsets)


@pytest.mark.parametrize("grouped_mm, frontend", [
    (lambda x, w, offs: F.grouped_mm(x, w, offs=offs), "fx"),  # torch.export's meta wants bfloat16
    (lambda x, w, offs: torch._grouped_mm(x, w, offs=offs), "fx"),
    (_transformers_fallback, "export"),  # what transformers' MoE calls under torch.export
], ids=["F.grouped_mm", "torch._grouped_mm", "transformers_fallback"])
def test_grouped_mm(grouped_mm, frontend):
    torch.manual_seed(0)
    model = GroupedExperts(grouped_mm)
    inputs = (torch.randn(6, 8), torch.randn(6, 4))
    assert graphnn.trace(model, inputs, frontend=frontend).frontend == frontend
    models = export_checked(model, inputs, frontend=frontend)
    assert "MatMul" in onnx_ops(models[18])


def test_grouped_mm_of_two_3d_tensors_is_refused():
    model = Wrap(lambda a, b: torch._grouped_mm(a, b))
    with pytest.raises(UnsupportedError, match="_grouped_mm other than"):
        graphnn.trace(model, (torch.randn(2, 4, 8), torch.randn(2, 8, 16)), frontend="fx")
