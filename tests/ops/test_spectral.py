"""Parity of the spectral ops (ONNX DFT / STFT, opset 17+) and of what models compute from
their complex results, under both frontends: FFTs with each norm and length, the complex
consumers (abs, real, imag, angle, view_as_real, products and sums), an FNet mixing block,
an FFT convolution and a spectrogram frontend; and the one-line refusals (a complex output,
a complex tensor reaching an op without a complex rule, an opset without DFT).

DFT exists from opset 17, so these run at the default opset and 17 (not graphnn's lowest,
13, which the last tests show refused); opset 20, where DFT's axis became an input, too."""
import re

import onnx
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.backend.onnx import to_onnx
from graphnn.errors import UnsupportedError
from tests.conftest import invoke
from tests.parity_utils import Wrap, export_checked, onnx_ops

OPSETS = (18, 17, 20)
FRONTENDS = ["auto", "export"]

FFTS = {
    "rfft": lambda x: torch.view_as_real(torch.fft.rfft(x)),
    "rfft_n_ortho_abs": lambda x: torch.fft.rfft(x, n=10, norm="ortho").abs(),
    "rfft_cut_forward": lambda x: torch.fft.rfft(x, n=5, dim=1, norm="forward").real,
    "fft_of_real": lambda x: torch.fft.fft(x, dim=1).imag,
    "fft_ifft_norms": lambda x: torch.fft.ifft(torch.fft.fft(x), norm="forward").imag + torch.fft.ifft(x, n=6).real[..., :1],
    "ifft_ortho": lambda x: torch.view_as_real(torch.fft.ifft(torch.fft.fft(x, norm="ortho"), norm="ortho")),
    "irfft_roundtrip": lambda x: torch.fft.irfft(torch.fft.rfft(x), n=8),
    "irfft_default_n": lambda x: torch.fft.irfft(torch.fft.rfft(x) * 2.0),
    "irfft_n_read_off_a_static_dim": lambda x: torch.fft.irfft(torch.fft.rfft(x) * 0.5, n=x.shape[-1]),
    # a spectrum that is not Hermitian (complex bin 0): torch drops the imaginary parts the
    # one-sided inverse cannot hold; odd n, and more bins than n//2+1 are read
    "irfft_odd_n_cut": lambda x: torch.fft.irfft(torch.fft.fft(x, dim=1), n=7, norm="ortho"),
    "irfft_zero_padded_bins": lambda x: torch.fft.irfft(torch.fft.rfft(x), n=12, norm="forward"),
    # angle's branch cut: bin 0 is real and its sign decides +-pi on a last-bit difference, so
    # the signal is positive there (the DC bin's angle 0) and n odd (no Nyquist bin)
    "angle": lambda x: torch.fft.rfft(x + 5.0, n=7).angle(),
    "real_imag_attributes": lambda x: torch.fft.rfft(x).real * torch.fft.rfft(x).imag,
    "torch_real_imag": lambda x: torch.real(torch.fft.fft(x)) - torch.imag(torch.fft.fft(x)),
    "times_real_tensor": lambda x: torch.view_as_real(torch.fft.rfft(x) * x[..., :5]),
    "real_tensor_times": lambda x: (x[..., :5] * torch.fft.rfft(x)).abs(),
    "times_scalar_over_scalar": lambda x: torch.view_as_real(3.0 * torch.fft.rfft(x) / 2.0),
    "plus_minus_complex": lambda x: torch.view_as_real(torch.fft.rfft(x) + torch.fft.rfft(x.flip(-1))
                                                        - torch.fft.rfft(x * x)),
    "plus_real_tensor": lambda x: torch.view_as_real(torch.fft.rfft(x) + x[..., :5]),
    "times_complex": lambda x: torch.view_as_real(torch.fft.rfft(x) * torch.fft.rfft(x.flip(-1))),
    "fftn_hf_fnet": lambda x: torch.fft.fftn(x, dim=(1, 2)).real,
    "fft2_ifft2_ortho": lambda x: torch.fft.ifft2(torch.fft.fft2(x, norm="ortho") * 2.0, s=(3, 6), norm="ortho").imag,
    "rfftn_irfftn": lambda x: torch.fft.irfftn(torch.fft.rfftn(x, dim=(1, 2)), s=(4, 8), dim=(1, 2)),
    "rfft2_abs_irfft2_odd": lambda x: torch.fft.rfft2(x, norm="forward").abs() + torch.fft.irfft2(
        torch.fft.fft(x, dim=1), s=(5, 7))[..., :1, :5].sum(),
    "conj": lambda x: torch.view_as_real(torch.fft.rfft(x).conj() * torch.fft.rfft(x.flip(-1))),
    "view_as_complex": lambda x: torch.fft.ifft(torch.view_as_complex(torch.stack([x, x * 2], -1))).real,
}


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("name", FFTS)
def test_fft(name, frontend):
    models = export_checked(Wrap(FFTS[name]), torch.randn(3, 4, 8), opsets=OPSETS, frontend=frontend)
    assert "DFT" in onnx_ops(models[18])


class FNetBlock(nn.Module):
    """FNet's token mixing: a 2-D FFT over hidden and sequence, real part, residual + norm."""

    def __init__(self, hidden=16):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.ff = nn.Linear(hidden, hidden)

    def forward(self, x):
        mixed = torch.fft.fft(torch.fft.fft(x, dim=-1), dim=-2).real
        x = self.norm(x + mixed)
        return self.norm(x + self.ff(x))


class FFTConv(nn.Module):
    """A long convolution as a product of spectra (Hyena / S4 style): rfft * rfft -> irfft."""

    def __init__(self, channels=4, length=16):
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(channels, length) / length)
        self.length = length

    def forward(self, u):
        n = 2 * self.length
        y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(self.kernel, n=n), n=n)
        return y[..., :self.length] + u


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_fnet_block(frontend):
    models = export_checked(FNetBlock(), torch.randn(2, 6, 16), opsets=OPSETS, frontend=frontend)
    assert onnx_ops(models[18]).count("DFT") == 2


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_fft_convolution_matches_a_long_conv(frontend):
    model = FFTConv()
    u = torch.randn(2, 4, 16)
    direct = nn.functional.conv1d(nn.functional.pad(u, (15, 0)), model.kernel.flip(-1)[:, None], groups=4) + u
    torch.testing.assert_close(model(u), direct, atol=1e-5, rtol=1e-5)  # the model is what it says
    models = export_checked(model, u, opsets=OPSETS, frontend=frontend)
    assert onnx_ops(models[18]).count("DFT") == 3


class Spectrogram(nn.Module):
    """An audio frontend: power spectrogram, log, then a Linear over frequency bins."""

    def __init__(self, n_fft=32, hop=8, win_length=None, center=True, normalized=False, window="buffer"):
        super().__init__()
        self.n_fft, self.hop, self.win_length = n_fft, hop, win_length
        self.center, self.normalized, self.window_kind = center, normalized, window
        self.register_buffer("window", torch.hann_window(win_length or n_fft))
        self.proj = nn.Linear(n_fft // 2 + 1, 8)

    def forward(self, wav):
        window = {"buffer": self.window, "none": None}.get(self.window_kind)
        if self.window_kind == "in_forward":
            window = torch.hamming_window(self.win_length or self.n_fft)
        spec = torch.stft(wav, self.n_fft, self.hop, win_length=self.win_length, window=window,
                          center=self.center, normalized=self.normalized, return_complex=True)
        power = spec.abs() ** 2
        return self.proj(torch.log(power + 1e-6).transpose(-1, -2))


SPECTROGRAMS = {
    "hann_centred": Spectrogram(),
    "short_window": Spectrogram(win_length=20),
    "not_centred_normalized": Spectrogram(center=False, normalized=True),
    "rectangular": Spectrogram(window="none", hop=5),
    "window_in_forward": Spectrogram(window="in_forward"),
}


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("name", SPECTROGRAMS)
def test_spectrogram_frontend(name, frontend):
    models = export_checked(SPECTROGRAMS[name], torch.randn(2, 200), opsets=(18, 17), frontend=frontend)
    assert onnx_ops(models[18]).count("STFT") == 1


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_spectrogram_of_a_dynamic_length(frontend):
    """Audio of any length: the frame count is a new dynamic dim, as a conv's output length."""
    models = export_checked(Spectrogram(), torch.randn(2, 200), opsets=(18, 17), frontend=frontend,
                            dynamic_dims=[{0: "batch", 1: "samples"}])
    frames = [d.dim_param or d.dim_value for d in models[18].graph.output[0].type.tensor_type.shape.dim]
    assert frames[0] == "batch" and isinstance(frames[1], str) and frames[2] == 8, frames


STFTS = {
    "one_signal": lambda x: torch.stft(x[0], 16, 4, window=torch.hann_window(16), return_complex=True).abs(),
    "two_sided_real": lambda x: torch.stft(x, 16, 5, window=torch.hann_window(16), onesided=False,
                                           return_complex=True).real,
    "not_complex": lambda x: torch.stft(x, 16, 4, window=torch.hann_window(16), return_complex=False),
}


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("name", STFTS)
def test_stft(name, frontend):
    export_checked(Wrap(STFTS[name]), torch.randn(2, 100), opsets=(18, 17), frontend=frontend)


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("fn, reaches", [
    (lambda x: torch.fft.rfft(x), "the model's output 'output'"),
    (lambda x: (x, torch.fft.fft(x)), "the model's output 'output_1'"),
    (lambda x: torch.fft.rfft(x).sum(), r"(Tensor\.sum|aten\.sum\.default)"),
    (lambda x: torch.fft.rfft(x)[:, 1:].abs(), r"(operator\.getitem|aten\.slice\.Tensor)"),
], ids=["output", "second_output", "sum", "slice"])
def test_a_complex_tensor_is_refused_where_it_has_no_rule(fn, reaches, frontend, tmp_path):
    out = tmp_path / "x.onnx"
    with pytest.raises(UnsupportedError) as info:
        graphnn.export(Wrap(fn), torch.randn(2, 8), str(out), frontend=frontend)
    message = str(info.value)
    assert re.search(f"a complex tensor reaches {reaches}; ", message), message
    assert message.endswith("take .abs()/.real/.imag/torch.view_as_real first") and "\n" not in message
    assert not out.exists()


@pytest.mark.parametrize("fn", [lambda x: torch.fft.rfft(x).abs(),
                                lambda x: torch.stft(x, 4, return_complex=True).abs()], ids=["rfft", "stft"])
def test_below_opset_17_the_op_and_the_opset_to_use_are_named(fn, tmp_path):
    with pytest.raises(UnsupportedError, match=r"needs ONNX opset 17 or later .*pass --opset 17 or newer "
                                               r"\(asked for 16\)$"):
        graphnn.export(Wrap(fn), torch.randn(2, 8), str(tmp_path / "x.onnx"), opset=16)


def test_a_real_transform_over_a_dynamic_dim_needs_n():
    with pytest.raises(UnsupportedError, match="rfft over a dynamic dim without n="):
        graphnn.trace(Wrap(lambda x: torch.fft.rfft(x, dim=0).real), torch.randn(3, 8))
    # with n given, the batch stays dynamic
    export_checked(Wrap(lambda x: torch.fft.rfft(x, n=3, dim=0).real), torch.randn(3, 8), opsets=(18,))


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_fft_over_a_dynamic_sequence(norm, frontend):
    """A text model's sequence is dynamic: fft / ifft keep its length as a symbol, DFT reads
    it at run time, and so does the norm's factor."""
    fn = Wrap(lambda x: torch.fft.ifft(torch.fft.fft(x, dim=1, norm=norm) * 2.0, dim=1, norm=norm).real
              + torch.fft.fft(torch.fft.fft(x, dim=-1), dim=1, norm=norm).real)
    models = export_checked(fn, torch.randn(2, 6, 8), opsets=OPSETS, frontend=frontend,
                            dynamic_dims=[{0: "batch", 1: "seq"}])
    assert "Shape" in onnx_ops(models[18]) or norm == "backward"


def test_the_ir_keeps_torchs_shape_and_onnx_adds_the_pair_dim():
    graph = graphnn.trace(Wrap(lambda x: torch.fft.rfft(x).abs()), torch.randn(2, 8))
    name, spectrum = next((n, v) for n, v in graph.values.items() if v.dtype == "complex64")
    assert spectrum.shape == ("batch", 5)
    info = {i.name: i for i in to_onnx(graph, 18).graph.value_info}[name]
    assert info.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in info.type.tensor_type.shape.dim] == ["batch", 5, 2]


@pytest.mark.slow
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_hugging_face_fnet(frontend):
    """transformers' FNetModel: torch.fft.fftn over (seq, hidden), .real, in every layer."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.FNetConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, intermediate_size=64,
                                     max_position_embeddings=64)
    model = transformers.FNetModel(config).eval()
    ids = torch.randint(0, 100, (2, 16))
    models = export_checked(model, {"input_ids": ids}, opsets=(18,), frontend=frontend,
                            dynamic_dims={"input_ids": {0: "batch"}})
    assert onnx_ops(models[18]).count("DFT") == 4


def test_a_decomposed_program_with_torchs_fft_kernels(tmp_path):
    """After run_decompositions() the FFTs are aten._fft_r2c / _c2c / _c2r with torch's
    integer normalization; a saved program of them exports with parity."""
    def spectra(x):
        return (torch.fft.irfft(torch.fft.rfft(x, norm="ortho") * 2.0, n=8)
                + torch.fft.ifft(torch.fft.fft(x, dim=1), norm="forward").real + torch.fft.fft(x).abs()
                + torch.fft.irfftn(torch.fft.rfftn(x, dim=(1, 2), norm="forward"), s=(4, 8), dim=(1, 2),
                                   norm="forward"))
    program = torch.export.export(Wrap(spectra), (torch.randn(3, 4, 8),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},)).run_decompositions()
    kernels = {str(n.target) for n in program.graph.nodes if str(n.target).startswith("aten._fft")}
    assert kernels == {"aten._fft_r2c.default", "aten._fft_c2c.default", "aten._fft_c2r.default"}
    torch.export.save(program, str(tmp_path / "spectra.pt2"))
    result = invoke(["check", str(tmp_path / "spectra.pt2")])
    assert result.exit_code == 0 and "parity ok" in result.output, result.output
    assert "batch 1:" in result.output and "batch 3:" in result.output
