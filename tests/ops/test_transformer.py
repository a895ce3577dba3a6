"""Parity of the torch.nn Transformer layers: encoder and decoder layers (norm_first both
ways, relu / gelu / a module / a function as activation), TransformerEncoder / Decoder with
masks, padding masks (and torch's nested-tensor zeros at padded positions) and is_causal,
and nn.Transformer with src and tgt. Each sublayer keeps its own module path."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import UnsupportedError
from tests.parity_utils import export_checked, onnx_ops

SEQ_FIRST = {0: "seq", 1: "batch"}
BATCH_FIRST = {0: "batch", 1: "seq"}


def seq_first(seq=5, batch=3, width=16):
    torch.manual_seed(0)
    return torch.randn(seq, batch, width)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", nn.SiLU(), F.gelu], ids=["relu", "gelu", "module", "function"])
def test_encoder_layer(norm_first, activation):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, norm_first=norm_first, activation=activation).eval()
    models = export_checked(layer, seq_first(), dynamic_dims=[SEQ_FIRST])
    assert onnx_ops(models[18]).count("Softmax") == 1 and onnx_ops(models[18]).count("LayerNormalization") == 2


def test_encoder_layer_unknown_activation_is_refused():
    layer = nn.TransformerEncoderLayer(16, 4, 32, activation=lambda x: x * 2).eval()
    with pytest.raises(UnsupportedError, match="activation"):
        graphnn.trace(layer, seq_first())


def test_encoder_layers_keep_their_module_paths():
    torch.manual_seed(0)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32), 2, enable_nested_tensor=False).eval()
    graph = graphnn.trace(encoder, seq_first(), dynamic_dims=[SEQ_FIRST])
    modules = {n.module for n in graph.nodes()}
    assert {"transformerencoder.layers.0.self_attn", "transformerencoder.layers.1.linear2",
            "transformerencoder.layers.1.norm2"} <= modules


class Encoder(nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2, **options)

    def forward(self, x, padding):
        return self.encoder(x, src_key_padding_mask=padding)


def padding(batch=3, seq=6):
    mask = torch.zeros(batch, seq, dtype=torch.bool)
    mask[0, 4:] = True
    mask[2, 5:] = True
    return mask


@pytest.mark.parametrize("nested", [True, False])
def test_encoder_with_padding_mask_matches_torchs_fast_path(nested):
    torch.manual_seed(0)
    model = Encoder(enable_nested_tensor=nested).eval()
    x = torch.randn(3, 6, 16)
    with torch.no_grad():
        zeros_at_padding = bool((model(x, padding())[0, 4:] == 0).all())
    assert zeros_at_padding == nested  # torch's nested tensors zero the padded positions
    models = export_checked(model, (x, padding()), dynamic_dims=[BATCH_FIRST, BATCH_FIRST])
    assert ("ReduceMin" in onnx_ops(models[18])) == nested  # the left-aligned check


class CausalEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2)

    def forward(self, x, mask):
        return self.encoder(x, mask=mask, is_causal=True)


def test_encoder_with_causal_mask():
    x = torch.randn(3, 6, 16)
    export_checked(CausalEncoder().eval(), (x, nn.Transformer.generate_square_subsequent_mask(6)),
                   dynamic_dims=[{0: "batch"}, None])


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer(norm_first):
    torch.manual_seed(0)
    layer = nn.TransformerDecoderLayer(16, 4, 32, norm_first=norm_first).eval()
    export_checked(layer, (seq_first(seq=4), seq_first()), dynamic_dims=[{0: "tgt", 1: "batch"}, SEQ_FIRST])


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 4, 32, batch_first=True), 2,
                                             norm=nn.LayerNorm(16))

    def forward(self, tgt, memory, tgt_mask, memory_padding):
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=memory_padding,
                            tgt_is_causal=True)


def test_decoder_with_masks():
    torch.manual_seed(0)
    tgt, memory = torch.randn(3, 4, 16), torch.randn(3, 6, 16)
    export_checked(Decoder().eval(), (tgt, memory, nn.Transformer.generate_square_subsequent_mask(4), padding()),
                   dynamic_dims=[{0: "batch"}, {0: "batch"}, None, {0: "batch"}])


def test_transformer_src_and_tgt():
    torch.manual_seed(0)
    model = nn.Transformer(16, 4, 2, 2, 32).eval()
    models = export_checked(model, (seq_first(), seq_first(seq=4)), dynamic_dims=[SEQ_FIRST, {0: "tgt", 1: "batch"}])
    assert onnx_ops(models[18]).count("Softmax") == 2 + 2 * 2  # encoder self, decoder self + cross
