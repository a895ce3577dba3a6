"""The key attributes a node's label shows (kernel / stride, features), one rule per op
family, from the IR node's attrs and weight shapes; a generic rule shows short scalars."""
from __future__ import annotations

from typing import Callable

LabelRule = Callable[[dict, dict], dict]
_RULES: dict[str, LabelRule] = {}
_HIDDEN = {"observed", "macs", "layer", "pads"}  # bookkeeping, or too long for a label


def label_rule(*ops: str):
    def register(fn: LabelRule) -> LabelRule:
        for op in ops:
            _RULES[op] = fn
        return fn
    return register


def dims(values) -> str:
    return "x".join(str(v) for v in values)


def key_attrs(op: str, attrs: dict, weights: dict) -> dict:
    """``{"kernel": "3x3", "stride": "2x2"}``: what a reader needs to recognise the layer."""
    rule = _RULES.get(op)
    if rule is not None:
        return rule(attrs, weights)
    return {k: _short(v) for k, v in attrs.items() if k not in _HIDDEN and _short(v) is not None}


def _short(value):
    if isinstance(value, bool) or isinstance(value, (int, float, str)) and len(str(value)) <= 12:
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(isinstance(v, int) for v in value):
        return dims(value)
    return None


@label_rule("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _conv(attrs, weights):
    weight = weights.get("weight", ())
    out = {"kernel": dims(weight[2:]), "stride": dims(attrs.get("stride", ()))}
    if any(d != 1 for d in attrs.get("dilation", ())):
        out["dilation"] = dims(attrs["dilation"])
    if attrs.get("groups", 1) != 1:
        out["groups"] = attrs["groups"]
    return out


@label_rule("linear", "dynamic_quantized_linear")
def _linear(attrs, weights):
    weight = weights.get("weight", (0, 0))
    return {"features": f"{weight[-1]} -> {weight[0]}"}


@label_rule("bilinear")
def _bilinear(attrs, weights):
    weight = weights.get("weight", (0, 0, 0))
    return {"features": f"{weight[1]}, {weight[2]} -> {weight[0]}"}


@label_rule("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
            "lp_pool1d", "lp_pool2d", "lp_pool3d")
def _pool(attrs, weights):
    return {"kernel": dims(attrs.get("kernel", ())), "stride": dims(attrs.get("stride", ()))}


@label_rule("embedding", "embedding_bag")
def _embedding(attrs, weights):
    weight = weights.get("weight", (0, 0))
    return {"table": f"{weight[0]} x {weight[1]}"}


@label_rule("batch_norm", "batch_stats_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm")
def _norm(attrs, weights):
    shape = weights.get("weight") or weights.get("running_mean")
    return {"features": dims(shape)} if shape else {}


@label_rule("lstm", "gru", "rnn", "lstm_cell", "gru_cell", "rnn_cell")
def _recurrent(attrs, weights):
    out = {"hidden": attrs.get("hidden_size")}
    if attrs.get("num_layers", 1) != 1:
        out["layers"] = attrs["num_layers"]
    if attrs.get("bidirectional"):
        out["bidirectional"] = True
    return out


@label_rule("opaque")
def _opaque(attrs, weights):
    return {"layer": attrs.get("layer")}
