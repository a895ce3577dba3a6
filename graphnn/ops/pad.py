"""Shape rule for ``pad``.

attrs: pads (ONNX layout: every dim's begin, then every dim's end; negative crops),
mode ("constant", "reflect", "replicate" or "circular"), value (constant mode's fill).
Negative pads crop first, then the mode pads what is left, as torch does.
"""
from graphnn.ops.dims import canonical, dim_expression, expression
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType

# The largest pad each mode can take from a dim of ``size`` elements (torch's limits).
_MAX_PAD = {
    "reflect": lambda size: size - 1,
    "circular": lambda size: size,
}


def padded_dim(node, i: int, size, begin: int, end: int):
    if begin == end == 0:
        return size
    if not isinstance(size, int):  # a named size grows by the pads (torch.stft's view after it)
        expr = expression(size)
        return f"{node.name}_d{i}" if expr is None else canonical(dim_expression(expr + begin + end))
    kept = size + min(begin, 0) + min(end, 0)
    if kept < 0:
        raise ShapeMismatch(f"crops dim {i} of size {size} by {-min(begin, 0) - min(end, 0)}")
    limit = _MAX_PAD.get(node.attrs["mode"])
    if limit is not None and max(begin, end) > limit(kept):
        raise ShapeMismatch(
            f"pads dim {i} by ({begin}, {end}) in {node.attrs['mode']} mode, which allows at most "
            f"{limit(kept)} for its {kept} elements"
        )
    return size + begin + end


def pad(node, x):
    pads = node.attrs["pads"]
    rank = len(x.shape)
    dims = [padded_dim(node, i, d, pads[i], pads[rank + i]) for i, d in enumerate(x.shape)]
    return TensorType(tuple(dims), x.dtype)


PAD = define("pad", shape=pad, macs=NO_MACS)
