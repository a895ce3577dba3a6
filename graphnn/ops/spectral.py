"""Shape rules of the spectral ops: ``rfft``, ``fft`` (also the inverse), ``irfft``, ``stft``,
and ``view_as_real`` / ``view_as_complex``, the two doors between complex and real values.

Complex values. An IR value of dtype ``complex64`` keeps torch's shape: ``rfft`` of a
(2, 8) tensor is a (2, 5) complex64 value, as in torch. In ONNX the same value is a float32
tensor with one more, trailing dim of 2 holding (real, imag): (2, 5, 2), the layout ONNX
DFT and STFT read and write. So an IR dim ``d`` is ONNX dim ``d`` as well, only the
lowerings of the ops here know the trailing 2, and ``view_as_real`` / ``view_as_complex``
are ONNX Identity. No other op reads a complex value (``complex_inputs``): the frontend
refuses one reaching any other op or a graph output, and builds ``.abs()``, ``.real``,
complex products and sums from ``view_as_real`` and real ops (frontend/layers/spectral.py).

Transforms run on one dim (``dim``, non-negative) of length ``n``: an int (ONNX DFT's
``dft_length``), or for ``fft`` a dynamic dim's own symbol (DFT's default length, the norm's
factor read at run time); ``norm`` is torch's: ``backward``, ``forward`` or ``ortho``.
"""
from __future__ import annotations

import math

from graphnn.ops.dims import window_out
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType

COMPLEX = "complex64"
NORMS = ("backward", "forward", "ortho")


def scale(norm: str, n: int, inverse: bool) -> float:
    """The factor torch's ``norm`` asks beyond ONNX DFT's (none forward, 1/n inverse)."""
    if norm == "ortho":
        return 1 / math.sqrt(n) if not inverse else math.sqrt(n)
    if norm == "forward":
        return 1 / n if not inverse else n
    return 1.0


def _resized(x, dim: int, length: int) -> tuple:
    return tuple(length if i == dim else d for i, d in enumerate(x.shape))


def _real(x, op: str) -> None:
    if x.dtype != "float32":
        raise ShapeMismatch(f"expects a float32 tensor for {op}, gets {x.dtype}")


def rfft(node, x):
    _real(x, "rfft")
    return TensorType(_resized(x, node.attrs["dim"], node.attrs["n"] // 2 + 1), COMPLEX)


def fft(node, x):
    if x.dtype != COMPLEX:
        _real(x, "fft")
    return TensorType(_resized(x, node.attrs["dim"], node.attrs["n"]), COMPLEX)


def irfft(node, z):
    if z.dtype != COMPLEX:
        raise ShapeMismatch(f"expects a complex64 tensor, gets {z.dtype}")
    return TensorType(_resized(z, node.attrs["dim"], node.attrs["n"]), "float32")


def stft(node, signal, window):
    """(batch, length) or (length,) -> (batch, bins, frames) or (bins, frames)."""
    _real(signal, "stft")
    n_fft, hop = node.attrs["n_fft"], node.attrs["hop_length"]
    if tuple(window.shape) != (n_fft,):
        raise ShapeMismatch(f"expects a window of {n_fft} samples, gets {window.shape}")
    length = signal.shape[-1]
    if isinstance(length, int) and length < n_fft:
        raise ShapeMismatch(f"expects at least n_fft={n_fft} samples, gets {length}")
    frames = window_out(length, n_fft, hop, 0, fresh=f"{node.name}_frames")  # a dynamic length: a new dim
    bins = n_fft // 2 + 1 if node.attrs["onesided"] else n_fft
    return TensorType((*signal.shape[:-1], bins, frames), COMPLEX)


def view_as_real(node, z):
    if z.dtype != COMPLEX:
        raise ShapeMismatch(f"expects a complex64 tensor, gets {z.dtype}")
    return TensorType((*z.shape, 2), "float32")


def view_as_complex(node, x):
    if x.dtype != "float32" or not x.shape or x.shape[-1] != 2:
        raise ShapeMismatch(f"expects a float32 tensor whose last dim is 2, gets {x.dtype} {x.shape}")
    return TensorType(tuple(x.shape[:-1]), COMPLEX)


def _label(attrs, weights):
    return {k: attrs[k] for k in ("dim", "n", "n_fft", "hop_length", "norm") if k in attrs}


RFFT = define("rfft", shape=rfft, macs=NO_MACS, label=_label)
FFT = define("fft", shape=fft, macs=NO_MACS, label=_label, complex_inputs=True)
IRFFT = define("irfft", shape=irfft, macs=NO_MACS, label=_label, complex_inputs=True)
STFT = define("stft", shape=stft, macs=NO_MACS, label=_label)
VIEW_AS_REAL = define("view_as_real", shape=view_as_real, macs=NO_MACS, complex_inputs=True)
VIEW_AS_COMPLEX = define("view_as_complex", shape=view_as_complex, macs=NO_MACS)
