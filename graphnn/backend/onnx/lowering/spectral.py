"""Lowerings of the spectral ops: ONNX DFT and STFT (both opset 17+; DFT's axis moved from an
attribute to an input in opset 20). A complex IR value is a float32 ONNX tensor with a
trailing (real, imag) dim of 2 (graphnn/ops/spectral.py), which is what DFT and STFT read
and write; a real input gets a trailing dim of 1. torch's ``norm`` is a Mul after the DFT
(ONNX scales only the inverse, by 1/n, as torch's default ``backward`` does).

Below opset 17 there is no DFT: the registry refuses these ops, naming the opset to use.
"""
import onnx

from graphnn.backend.onnx.registry import lowers
from graphnn.errors import UnsupportedError
from graphnn.ops.spectral import FFT, IRFFT, RFFT, STFT, VIEW_AS_COMPLEX, VIEW_AS_REAL, scale

DFT_SINCE = 17
AXIS_INPUT_SINCE = 20


def _dft(ctx, x: str, axis: int, length, output=None, **attrs) -> str:
    """ONNX DFT of ``x`` (trailing 1 or 2) along ``axis``, zero-padded or cut to ``length``
    (a symbol: the dim's own length, DFT's default)."""
    inputs = [x, ctx.const(length, hint="dft_length") if isinstance(length, int) else ""]
    if ctx.opset >= AXIS_INPUT_SINCE:
        return ctx.add1("DFT", inputs + [ctx.const(axis, hint="axis")], output, **attrs)
    return ctx.add1("DFT", inputs[:1] if not inputs[1] else inputs, output, axis=axis, **attrs)


def _scaled(ctx, x: str, factor: float, output: str) -> str:
    if factor == 1.0:
        return ctx.add1("Identity", [x], output)
    return ctx.add1("Mul", [x, ctx.const(factor, dtype="float32", hint="norm")], output)


def _normalized(ctx, node, x: str) -> str:
    """``x`` times torch's ``norm`` factor; for a dynamic length, n read off the input's shape."""
    a = node.attrs
    if isinstance(a["n"], int) or a["norm"] == "backward":
        return _scaled(ctx, x, scale(a["norm"], a["n"] if isinstance(a["n"], int) else 1, a["inverse"]),
                       ctx.output(node))
    size = ctx.add1("Gather", [ctx.add1("Shape", [ctx.input(node)]), ctx.const(a["dim"], hint="dim")], axis=0)
    n = ctx.add1("Cast", [size], to=onnx.TensorProto.FLOAT)
    if a["norm"] == "ortho":
        n = ctx.add1("Sqrt", [n])
    # forward: 1/n (or 1/sqrt n) on the way in; inverse: undo ONNX's 1/n, keep 1/sqrt n
    return ctx.add1("Mul" if a["inverse"] else "Div", [x, n], ctx.output(node))


def _as_signal(ctx, node) -> str:
    """The input in DFT's layout: a real tensor gets its trailing dim of 1."""
    x = ctx.input(node)
    if ctx.graph.values[node.inputs[0]].dtype == "float32":
        return ctx.add1("Unsqueeze", [x, ctx.const([-1], hint="axes")])
    return x


@lowers(RFFT, FFT, IRFFT, STFT)
def before_dft(ctx, node):
    raise UnsupportedError(f"{node.where}: {node.op} needs ONNX opset {DFT_SINCE} or later (DFT, STFT): "
                           f"pass --opset {DFT_SINCE} or newer (asked for {ctx.opset})")


@lowers(RFFT, since=DFT_SINCE)
def rfft(ctx, node):
    a = node.attrs
    spectrum = _dft(ctx, _as_signal(ctx, node), a["dim"], a["n"], onesided=1)
    _scaled(ctx, spectrum, scale(a["norm"], a["n"], inverse=False), ctx.output(node))


@lowers(FFT, since=DFT_SINCE)
def fft(ctx, node):
    a = node.attrs
    _normalized(ctx, node, _dft(ctx, _as_signal(ctx, node), a["dim"], a["n"], inverse=int(a["inverse"])))


@lowers(IRFFT, since=DFT_SINCE)
def irfft(ctx, node):
    """torch reads the first n//2+1 bins (zeros past the end), ignoring the imaginary part
    of the bins whose mirror is themselves, as the one-sided inverse DFT does."""
    a = node.attrs
    dim, n = a["dim"], a["n"]
    bins, have = n // 2 + 1, ctx.graph.values[node.inputs[0]].shape[dim]
    z = ctx.input(node)
    if have > bins:
        z = ctx.add1("Slice", [z, ctx.const([0], hint="starts"), ctx.const([bins], hint="ends"),
                               ctx.const([dim], hint="axes")])
    elif have < bins:
        rank = len(ctx.graph.values[node.inputs[0]].shape) + 1
        pads = [0] * (2 * rank)
        pads[rank + dim] = bins - have
        z = ctx.add1("Pad", [z, ctx.const(pads, hint="pads")])
    signal = _dft(ctx, z, dim, n, inverse=1, onesided=1)
    real = ctx.add1("Squeeze", [signal, ctx.const([-1], hint="axes")])
    _scaled(ctx, real, scale(a["norm"], n, inverse=True), ctx.output(node))


@lowers(STFT, since=DFT_SINCE)
def stft(ctx, node):
    """ONNX STFT takes (batch, length, 1) and gives (batch, frames, bins, 2); torch's layout
    is (batch, bins, frames). The signal arrives padded (torch's ``center``) by the frontend."""
    a = node.attrs
    one_signal = len(ctx.graph.values[node.inputs[0]].shape) == 1
    axes = [0, -1] if one_signal else [-1]
    signal = ctx.add1("Unsqueeze", [ctx.input(node, 0), ctx.const(axes, hint="axes")])
    frames = ctx.add1("STFT", [signal, ctx.const(a["hop_length"], hint="frame_step"), ctx.input(node, 1),
                               ctx.const(a["n_fft"], hint="frame_length")], onesided=int(a["onesided"]))
    spectrum = ctx.add1("Transpose", [frames], perm=[0, 2, 1, 3])
    if one_signal:
        spectrum = ctx.add1("Squeeze", [spectrum, ctx.const([0], hint="batch")])
    factor = 1 / a["n_fft"] ** 0.5 if a["normalized"] else 1.0
    _scaled(ctx, spectrum, factor, ctx.output(node))


@lowers(VIEW_AS_REAL, VIEW_AS_COMPLEX)
def same_bytes(ctx, node):
    """Both views are the ONNX layout itself."""
    ctx.add1("Identity", [ctx.input(node)], ctx.output(node))
