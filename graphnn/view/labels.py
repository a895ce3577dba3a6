"""The key attributes a node's label shows (kernel / stride, features): an IR op's label
rule is on its OpDef (graphnn/ops), from the node's attrs and weight shapes; any other
node (an ONNX op type, an op without one) gets a generic rule showing short scalars."""
from __future__ import annotations

from graphnn.ops.dims import dims_label
from graphnn.ops.opdef import find_opdef

_HIDDEN = {"observed", "macs", "layer", "pads"}  # bookkeeping, or too long for a label


def key_attrs(op: str, attrs: dict, weights: dict) -> dict:
    """``{"kernel": "3x3", "stride": "2x2"}``: what a reader needs to recognise the layer."""
    definition = find_opdef(op)
    if definition is not None and definition.label is not None:
        return definition.label(attrs, weights)
    return {k: _short(v) for k, v in attrs.items() if k not in _HIDDEN and _short(v) is not None}


def _short(value):
    if isinstance(value, bool) or isinstance(value, (int, float, str)) and len(str(value)) <= 12:
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(isinstance(v, int) for v in value):
        return dims_label(value)
    return None
