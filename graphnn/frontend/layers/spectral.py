"""Rules for spectral ops: ``torch.fft.rfft / irfft / fft / ifft`` (and their 2-D / n-D forms,
one 1-D transform per dim), ``torch.stft``, window functions, and what a model does with a
complex result: ``.abs()``, ``.real``, ``.imag``, ``.angle()``, ``.conj()``,
``torch.view_as_real``, a spectrum times a real tensor or number, and complex sums and
products (FNet's mixing, FFT convolutions, spectrogram frontends).

Complex values are complex64 IR values (graphnn/ops/spectral.py has their ONNX layout). Only
the spectral ops read them; everything a model computes from them is built here from
``view_as_real`` (a real (..., 2) tensor) and real ops, then ``view_as_complex`` when the
result is complex again. These complex rules run only for a call with a complex argument
(``complex_rule``); the plain rule keeps every other call of ``abs``, ``mul``, ``+``...
"""
import builtins
import numbers
import operator

import torch

from graphnn.frontend.layers.pad import emit_pad
from graphnn.frontend.layers.shape import checked_dim
from graphnn.frontend.layers.structural import getattr_
from graphnn.frontend.rules import Ref, complex_rule, function_rule, function_rule_for, method_rule
from graphnn.ops.spectral import FFT, IRFFT, NORMS, RFFT, STFT, VIEW_AS_COMPLEX, VIEW_AS_REAL
from graphnn.tensors import is_complex


def _transform(b, x, n, dim, norm, what):
    """(dim, n, norm) of a transform of ``x``. n is static (DFT's length), except that fft /
    ifft keep a dynamic dim's length (a symbol: the lowering reads it at run time)."""
    dim = checked_dim(b, x, dim)
    if norm is None:
        norm = "backward"
    if norm not in NORMS:
        raise b.unsupported(f"{what} with norm={norm!r}")
    if isinstance(n, Ref) and isinstance(b.value(n).known, int):  # n=x.size(-1) of a static dim
        n = b.value(n).known
    if n is None:
        n = b.shape(x)[dim]
        if what in ("fft", "ifft") and not isinstance(n, int):
            return dim, n, norm
        if what == "irfft" and isinstance(n, int):
            n = 2 * (n - 1)
    if not isinstance(n, int) or n < 1:
        raise b.unsupported(f"{what} over a dynamic dim without n= (give n, or export with --static)")
    return dim, n, norm


def _float(b, x, what):
    if b.dtype(x) != "float32":
        raise b.unsupported(f"{what} of a {b.dtype(x)} tensor (float32 only)")
    return x


@function_rule(torch.fft.rfft)
def rfft(b, x, n=None, dim=-1, norm=None, *, out=None):
    dim, n, norm = _transform(b, x, n, dim, norm, "rfft")
    return b.emit(RFFT, [_float(b, x, "rfft")], dim=dim, n=n, norm=norm)


@function_rule(torch.fft.irfft)
def irfft(b, x, n=None, dim=-1, norm=None, *, out=None):
    if not is_complex(b.dtype(x)):
        raise b.unsupported("irfft of a real tensor")
    dim, n, norm = _transform(b, x, n, dim, norm, "irfft")
    return b.emit(IRFFT, [x], dim=dim, n=n, norm=norm)


def _fft(inverse: bool):
    what = "ifft" if inverse else "fft"

    def rule(b, x, n=None, dim=-1, norm=None, *, out=None):
        dim, n, norm = _transform(b, x, n, dim, norm, what)
        if not is_complex(b.dtype(x)):
            _float(b, x, what)
        return b.emit(FFT, [x], dim=dim, n=n, norm=norm, inverse=inverse)
    return rule


function_rule(torch.fft.fft)(_fft(inverse=False))
function_rule(torch.fft.ifft)(_fft(inverse=True))


def _axes(b, x, s, dim):
    """fftn's (dim, n) pairs: ``dim`` None is every dim, or the last len(s) when s is given;
    an n of -1 or None keeps the dim's size."""
    if dim is None:
        dim = range(b.rank(x)) if s is None else range(b.rank(x) - len(s), b.rank(x))
    dims = [dim] if isinstance(dim, int) else list(dim)
    sizes = [None] * len(dims) if s is None else [None if n == -1 else n for n in s]
    if len(sizes) != len(dims):
        raise b.unsupported(f"an FFT with s={list(s)} over dims {dims} (one size per dim)")
    return list(zip(dims, sizes))


def _fftn(inverse: bool, dim=None):
    """fftn / ifftn (fft2 / ifft2: dim=(-2, -1)): one 1-D transform per dim, each normalised
    by its own length (torch's norm of the n-D transform is their product)."""
    def rule(b, x, s=None, dim=dim, norm=None, *, out=None):
        for axis, n in _axes(b, x, s, dim):
            x = _fft(inverse)(b, x, n, axis, norm)
        return x
    return rule


def _rfftn(dim=None):
    """rfftn / rfft2: rfft over the last of the dims, then fft over the others."""
    def rule(b, x, s=None, dim=dim, norm=None, *, out=None):
        *others, (last, n) = _axes(b, x, s, dim)
        x = rfft(b, x, n, last, norm)
        for axis, n in others:
            x = _fft(False)(b, x, n, axis, norm)
        return x
    return rule


def _irfftn(dim=None):
    """irfftn / irfft2: ifft over all but the last of the dims, then irfft over it."""
    def rule(b, x, s=None, dim=dim, norm=None, *, out=None):
        *others, (last, n) = _axes(b, x, s, dim)
        for axis, size in others:
            x = _fft(True)(b, x, size, axis, norm)
        return irfft(b, x, n, last, norm)
    return rule


for _function, _rule in {torch.fft.fftn: _fftn(False), torch.fft.ifftn: _fftn(True),
                         torch.fft.fft2: _fftn(False, (-2, -1)), torch.fft.ifft2: _fftn(True, (-2, -1)),
                         torch.fft.rfftn: _rfftn(), torch.fft.rfft2: _rfftn((-2, -1)),
                         torch.fft.irfftn: _irfftn(), torch.fft.irfft2: _irfftn((-2, -1))}.items():
    function_rule(_function)(_rule)


# torch's own FFT kernels, aten._fft_r2c / _c2c / _c2r (what torch.fft.* decompose into: a
# program saved after run_decompositions()). Their ``normalization`` scales as asked whatever
# the direction: 0 not at all, 1 by 1/sqrt(n), 2 by 1/n; these are the norms giving that.
_SCALED_FORWARD = ("backward", "ortho", "forward")
_SCALED_INVERSE = ("forward", "ortho", "backward")


def fft_r2c(b, x, dim, normalization, onesided):
    *others, last = dim
    norm = _SCALED_FORWARD[normalization]
    x = rfft(b, x, None, last, norm) if onesided else _fft(False)(b, x, None, last, norm)
    for axis in others:
        x = _fft(False)(b, x, None, axis, norm)
    return x


def fft_c2c(b, x, dim, normalization, forward):
    norm = (_SCALED_FORWARD if forward else _SCALED_INVERSE)[normalization]
    for axis in dim:
        x = _fft(not forward)(b, x, None, axis, norm)
    return x


def fft_c2r(b, x, dim, normalization, last_dim_size):
    *others, last = dim
    norm = _SCALED_INVERSE[normalization]
    for axis in others:
        x = _fft(True)(b, x, None, axis, norm)
    return irfft(b, x, last_dim_size, last, norm)


@function_rule(torch.stft)
def stft(b, x, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """torch.stft of a (batch, length) or (length,) float signal: its centre padding here
    (torch pads in Python, so torch.export records the padding apart and calls this with
    center=False), the window zero-padded to n_fft in its middle, then one ``stft`` op."""
    if return_complex is None:
        raise b.unsupported("torch.stft without return_complex (torch requires it for real signals)")
    if align_to_window:
        raise b.unsupported("torch.stft with align_to_window=True")
    if is_complex(b.dtype(x)) or (isinstance(window, Ref) and is_complex(b.dtype(window))):
        raise b.unsupported("torch.stft of a complex signal or window")
    _float(b, x, "stft")
    if b.rank(x) not in (1, 2):
        raise b.unsupported(f"torch.stft of a {b.rank(x)}-d signal (1-d or 2-d)")
    hop_length = hop_length or n_fft // 4
    win_length = win_length or n_fft
    if center:
        pads = [0] * (2 * b.rank(x))
        pads[b.rank(x) - 1] = pads[-1] = n_fft // 2
        x = emit_pad(b, x, pads, pad_mode)
    window = _window(b, window, win_length, n_fft)
    spectrum = b.emit(STFT, [x, window], n_fft=n_fft, hop_length=hop_length,
                      onesided=True if onesided is None else bool(onesided), normalized=bool(normalized))
    return spectrum if return_complex else b.emit(VIEW_AS_REAL, [spectrum])


def _window(b, window, win_length, n_fft):
    """The window as n_fft float32 samples: torch centres a shorter one between zeros."""
    if window is None:
        window = b.constant(torch.ones(win_length), name=f"{b.name}_window")
    if b.shape(window) != (win_length,):
        raise b.shape_error(f"expects a window of win_length={win_length} samples, gets {b.shape(window)}")
    left = (n_fft - win_length) // 2
    if left or n_fft - win_length:
        window = emit_pad(b, window, [left, n_fft - win_length - left])
    return window


def _window_function(function):
    """Window functions are constants (their length is a Python int at trace time)."""
    def rule(b, window_length, *args, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
        if not isinstance(window_length, int):
            raise b.unsupported(f"{function.__name__} of a traced length")
        return b.constant(function(window_length, *args, dtype=dtype or torch.float32))
    return rule


for _function in (torch.hann_window, torch.hamming_window, torch.blackman_window, torch.bartlett_window,
                  torch.kaiser_window):
    function_rule(_function)(_window_function(_function))


# ------------------------------------------------------------------ complex values


@function_rule(torch.view_as_real)
def view_as_real(b, z):
    if not is_complex(b.dtype(z)):
        raise b.unsupported(f"torch.view_as_real of a {b.dtype(z)} tensor")
    return b.emit(VIEW_AS_REAL, [z])


@function_rule(torch.view_as_complex)
def view_as_complex(b, x):
    return b.emit(VIEW_AS_COMPLEX, [x])


def _part(b, z, index):
    return function_rule_for(torch.select)(b, view_as_real(b, z), -1, index)


@function_rule(torch.real)
def real(b, z):
    return _part(b, z, 0) if is_complex(b.dtype(z)) else z


@function_rule(torch.imag)
def imag(b, z):
    if not is_complex(b.dtype(z)):
        raise b.unsupported("torch.imag of a real tensor (torch refuses it too)")
    return _part(b, z, 1)


@complex_rule(functions=[builtins.getattr])
def complex_attribute(b, z, name, *default):
    """``z.real`` / ``z.imag``; ``z.shape``, ``z.ndim``... as for any tensor."""
    if name in ("real", "imag"):
        return _part(b, z, 0 if name == "real" else 1)
    return getattr_(b, z, name, *default)


@complex_rule(functions=[operator.abs, torch.abs, torch.absolute], methods=["abs", "absolute"])
def magnitude(b, z, *, out=None):
    """|z| = sqrt(re^2 + im^2): the 2-norm over the (real, imag) pair."""
    return function_rule_for(torch.linalg.vector_norm)(b, view_as_real(b, z), 2, -1)


@function_rule(torch.angle)
@method_rule("angle")
def angle(b, z, *, out=None):
    if not is_complex(b.dtype(z)):
        raise b.unsupported("torch.angle of a real tensor")
    return function_rule_for(torch.atan2)(b, _part(b, z, 1), _part(b, z, 0))


@function_rule(torch.conj, torch._conj, torch.conj_physical, torch.resolve_conj)
@method_rule("conj", "conj_physical", "resolve_conj")
def conj(b, z):
    """The conjugate: (re, -im); a real tensor is its own."""
    if not is_complex(b.dtype(z)):
        return z
    flip = b.constant([1.0, -1.0], name=f"{b.name}_conj")
    return _as_complex(b, function_rule_for(operator.mul)(b, view_as_real(b, z), flip))


def _pair(b, value):
    """A complex or real operand as a real (..., 2) tensor or a number; a real tensor becomes
    (x, 0) by broadcasting against [1, 0]."""
    if isinstance(value, Ref) and is_complex(b.dtype(value)):
        return view_as_real(b, value), True
    if isinstance(value, Ref):
        if b.dtype(value) != "float32":
            raise b.unsupported(f"complex arithmetic with a {b.dtype(value)} tensor (float32 only)")
        return function_rule_for(torch.unsqueeze)(b, value, -1), False
    if isinstance(value, numbers.Real):
        return value, False
    raise b.unsupported(f"complex arithmetic with {value!r}")


def _as_complex(b, pair):
    return b.emit(VIEW_AS_COMPLEX, [pair])


def _on_real_pairs(function):
    """``function`` of complex + real: on the pairs, a real operand counting as (x, 0)."""
    def rule(b, a, other, *, alpha=1, out=None):
        (x, x_complex), (y, y_complex) = _pair(b, a), _pair(b, other)
        if alpha != 1:
            y = function_rule_for(operator.mul)(b, y, alpha)
        if isinstance(y, Ref) and not y_complex:
            y = function_rule_for(operator.mul)(b, y, b.constant([1.0, 0.0], name=f"{b.name}_real"))
        if isinstance(x, Ref) and not x_complex:
            x = function_rule_for(operator.mul)(b, x, b.constant([1.0, 0.0], name=f"{b.name}_real"))
        if not isinstance(x, Ref) or not isinstance(y, Ref):
            raise b.unsupported("a complex tensor plus or minus a Python number")
        return _as_complex(b, function_rule_for(function)(b, x, y))
    return rule


complex_rule(functions=[operator.add, operator.iadd, torch.add], methods=["add", "__add__", "__radd__"])(
    _on_real_pairs(operator.add))
complex_rule(functions=[operator.sub, operator.isub, torch.sub], methods=["sub", "__sub__"])(
    _on_real_pairs(operator.sub))


@complex_rule(functions=[operator.mul, operator.imul, torch.mul, torch.multiply],
              methods=["mul", "multiply", "__mul__", "__rmul__"])
def complex_mul(b, a, other, *, out=None):
    """A spectrum times a real tensor or number scales both parts; times a complex tensor,
    (a + bi)(c + di) = (ac - bd) + (ad + bc)i."""
    (x, x_complex), (y, y_complex) = _pair(b, a), _pair(b, other)
    mul = function_rule_for(operator.mul)
    if not (x_complex and y_complex):
        return _as_complex(b, mul(b, x, y))
    split = function_rule_for(torch.unbind)
    (p, q), (r, s) = split(b, x, -1), split(b, y, -1)
    re = function_rule_for(operator.sub)(b, mul(b, p, r), mul(b, q, s))
    im = function_rule_for(operator.add)(b, mul(b, p, s), mul(b, q, r))
    return _as_complex(b, function_rule_for(torch.stack)(b, [re, im], -1))


@complex_rule(functions=[operator.truediv, torch.div, torch.divide], methods=["div", "divide", "__truediv__"])
def complex_div(b, a, other, *, rounding_mode=None, out=None):
    """A spectrum over a real tensor or number (dividing by a complex one: not yet)."""
    (x, x_complex), (y, y_complex) = _pair(b, a), _pair(b, other)
    if y_complex or not x_complex or rounding_mode is not None:
        raise b.unsupported("dividing by a complex tensor")
    return _as_complex(b, function_rule_for(operator.truediv)(b, x, y))

