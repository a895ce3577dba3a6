"""Parity of attention: F.scaled_dot_product_attention (masks, is_causal, scale, GQA) and
nn.MultiheadAttention (self / cross, batch_first both ways, kdim/vdim, bool and float masks,
key_padding_mask, need_weights averaged and per head), all through the one ``attention`` op
lowered to MatMul + Softmax + MatMul."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import UnsupportedError
from tests.parity_utils import export_checked, onnx_ops

BATCHED = {0: "batch"}


class SDPA(nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **self.options)


def qkv(heads=4, kv_heads=4, L=5, S=7, E=8):
    torch.manual_seed(0)
    return torch.randn(2, heads, L, E), torch.randn(2, kv_heads, S, E), torch.randn(2, kv_heads, S, 6)


@pytest.mark.parametrize("options", [{}, {"is_causal": True}, {"scale": 0.3}], ids=["plain", "causal", "scale"])
def test_sdpa(options):
    models = export_checked(SDPA(**options), qkv(), dynamic_dims=[BATCHED] * 3)
    ops = onnx_ops(models[18])
    assert ops.count("MatMul") == 2 and ops.count("Softmax") == 1
    assert ("Range" in ops) == bool(options.get("is_causal"))


def test_sdpa_causal_with_a_dynamic_sequence():
    torch.manual_seed(0)
    q = torch.randn(2, 4, 6, 8)
    export_checked(SDPA(is_causal=True), (q, q, q), dynamic_dims=[{0: "batch", 2: "seq"}] * 3)


def test_sdpa_bool_mask_gives_zeros_where_a_query_sees_no_key():
    mask = torch.rand(5, 7) > 0.4
    mask[1] = False  # query 1 sees nothing: torch returns zeros there
    models = export_checked(SDPA(), (*qkv(), mask), dynamic_dims=[BATCHED] * 3 + [None])
    assert "Where" in onnx_ops(models[18]) and "IsNaN" in onnx_ops(models[18])


def test_sdpa_float_mask():
    export_checked(SDPA(), (*qkv(), torch.randn(2, 1, 5, 7)), dynamic_dims=[BATCHED] * 4)


def test_sdpa_grouped_query_attention():
    export_checked(SDPA(enable_gqa=True), qkv(heads=4, kv_heads=2), dynamic_dims=[BATCHED] * 3)


def test_sdpa_dropout_is_refused():
    with pytest.raises(UnsupportedError, match="dropout_p=0.1"):
        graphnn.trace(SDPA(dropout_p=0.1), qkv())


class SelfAttention(nn.Module):
    def __init__(self, batch_first=True, **options):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=batch_first, **options)

    def forward(self, x, key_padding_mask=None, attn_mask=None):
        out, weights = self.attn(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
        return out, weights


def padding_mask(batch=3, seq=5):
    mask = torch.zeros(batch, seq, dtype=torch.bool)
    mask[0, 3:] = True
    return mask


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_self_attention_with_weights(batch_first):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16) if batch_first else torch.randn(5, 3, 16)
    dims = [{0: "batch", 1: "seq"}] if batch_first else [{0: "seq", 1: "batch"}]
    models = export_checked(SelfAttention(batch_first).eval(), x, dynamic_dims=dims)
    assert onnx_ops(models[18]).count("Softmax") == 1 and "ReduceMean" in onnx_ops(models[18])


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_mha_key_padding_and_attention_masks(mask_kind):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16)
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    attn_mask = causal if mask_kind == "bool" else torch.zeros(5, 5).masked_fill(causal, float("-inf"))
    kp = padding_mask() if mask_kind == "bool" else torch.zeros(3, 5).masked_fill(padding_mask(), float("-inf"))
    export_checked(SelfAttention().eval(), (x, kp, attn_mask), dynamic_dims=[{0: "batch"}, {0: "batch"}, None])


def test_mha_per_head_3d_attn_mask():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 16)
    attn_mask = torch.randn(2 * 4, 5, 5)
    export_checked(SelfAttention().eval(), {"x": x, "attn_mask": attn_mask}, dynamic_batch=False)


class CrossAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, kdim=12, vdim=10, batch_first=True)

    def forward(self, q, memory, value):
        out, weights = self.attn(q, memory, value, average_attn_weights=False)
        return out, weights


def test_mha_cross_attention_kdim_vdim_per_head_weights():
    torch.manual_seed(0)
    inputs = (torch.randn(3, 4, 16), torch.randn(3, 6, 12), torch.randn(3, 6, 10))
    models = export_checked(CrossAttention().eval(), inputs, dynamic_dims=[{0: "batch", 1: "tgt"}, {0: "batch", 1: "src"},
                                                                            {0: "batch", 1: "src"}])
    assert [d.dim_param or d.dim_value for d in models[18].graph.output[1].type.tensor_type.shape.dim] == \
        ["batch", 2, "tgt", "src"]


def test_mha_add_bias_kv_is_refused_by_name():
    with pytest.raises(UnsupportedError, match="add_bias_kv"):
        graphnn.trace(SelfAttention(add_bias_kv=True), torch.randn(2, 5, 16))
