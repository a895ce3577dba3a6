"""Rules for padding: nn.ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad{1,2,3}d
and ``F.pad``, all as one ``pad`` op.

torch lists pads from the LAST dim backwards, (left, right, top, bottom, ...); the op
keeps ONNX's layout instead: every dim's begin, then every dim's end. Negative pads crop.
"""
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.rules import Ref, function_rule, module_rule
from graphnn.ops.pad import PAD

MODES = ("constant", "reflect", "replicate", "circular")

_LAYER_MODES = {
    **dict.fromkeys((nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d), "constant"),
    **dict.fromkeys((nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d), "constant"),
    **dict.fromkeys((nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d), "reflect"),
    **dict.fromkeys((nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d), "replicate"),
    **dict.fromkeys((nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d), "circular"),
}


def onnx_pads(b, pad, rank: int) -> list:
    """torch's (last_begin, last_end, second_last_begin, ...) as [begin..., end...] over all dims."""
    pad = list(pad)
    if len(pad) % 2 or len(pad) > 2 * rank:
        raise b.unsupported(f"a pad list of {len(pad)} numbers for a {rank}-d input")
    begins, ends = [0] * rank, [0] * rank
    for i in range(len(pad) // 2):
        begins[rank - 1 - i], ends[rank - 1 - i] = pad[2 * i], pad[2 * i + 1]
    return begins + ends


def emit_pad(b, x, pads: list, mode: str = "constant", value=None, name=None):
    """One ``pad`` op; ``pads`` in ONNX layout."""
    if mode not in MODES:
        raise b.unsupported(f"padding mode {mode!r}")
    return b.emit(PAD, [x], name=name, pads=[_static_pad(b, p) for p in pads], mode=mode,
                  value=float(value or 0.0))


def _static_pad(b, pad) -> int:
    """A pad as an int: a traced size whose value is known (DaViT pads by ``-W % stride``,
    W a static dim fx traced) is that value; one that depends on a dynamic dim is refused."""
    if isinstance(pad, Ref):
        known = b.value(pad).known
        if not isinstance(known, int):
            raise b.unsupported(f"a pad that depends on a dynamic dim ({known or 'computed in the graph'}; "
                                f"export with that dim static)")
        return known
    return int(pad)


@module_rule(*_LAYER_MODES)
def pad_layer(b, module, x):
    mode = _LAYER_MODES[type(module)]
    return emit_pad(b, x, onnx_pads(b, module.padding, b.rank(x)), mode, getattr(module, "value", 0.0))


@function_rule(F.pad)
def pad_function(b, x, pad, mode="constant", value=None):
    return emit_pad(b, x, onnx_pads(b, pad, b.rank(x)), mode, value)
