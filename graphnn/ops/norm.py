"""Shape rules for normalisation: every op keeps its input's shape and dtype; the rules
check what the layer's parameters or attributes say about the input.

* ``batch_norm`` (params running_mean, running_var, optional weight/bias; attr eps):
  per-channel on dim 1.
* ``batch_stats_norm``, ``instance_norm``, ``group_norm`` (optional per-channel weight/bias;
  attr eps, group_norm also num_groups): the channel count is checked when the params
  give it, as torch does.
* ``layer_norm``, ``rms_norm`` (attrs normalized_shape, eps): over the last dims.
* ``lrn`` (attrs size, alpha, beta, k): across channels. ``lp_normalize`` (attrs p, dim, eps).
"""
from graphnn.ops.dims import dims_label, normalize_axis
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import ShapeMismatch, TensorType


def _channels_first(x, channels, min_rank=2):
    """An (N, C, ...) input of at least ``min_rank`` dims with ``channels`` on dim 1 (None: any)."""
    if len(x.shape) < min_rank:
        raise ShapeMismatch(f"expects an (N, C, ...) input of {min_rank} or more dims, gets {len(x.shape)}-d")
    if channels is not None and x.shape[1] != channels:
        raise ShapeMismatch(f"expects {channels} channels, gets {x.shape[1]}")


def _weight_channels(node):
    weight = node.params.get("weight", node.params.get("bias"))
    return None if weight is None else weight.shape[0]


def _tuple(dims):
    """Python's tuple notation, as torch prints normalized_shape: (10,) or (3, 4)."""
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


def per_channel(node, x):
    _channels_first(x, node.params["running_mean"].shape[0])
    return TensorType(x.shape, x.dtype)


def batch_stats_norm(node, x):
    _channels_first(x, _weight_channels(node))
    return TensorType(x.shape, x.dtype)


def spatial_channels(node, x):
    """InstanceNormalization and LRN need spatial dims after (N, C)."""
    _channels_first(x, _weight_channels(node), min_rank=3)
    return TensorType(x.shape, x.dtype)


def group_norm(node, x):
    _channels_first(x, _weight_channels(node))
    groups, channels = node.attrs["num_groups"], x.shape[1]
    if isinstance(channels, int) and channels % groups:
        raise ShapeMismatch(f"expects channels divisible by {groups} groups, gets {channels}")
    return TensorType(x.shape, x.dtype)


def trailing(node, x):
    """normalized_shape must be the input's last dims."""
    expected = tuple(node.attrs["normalized_shape"])
    got = tuple(x.shape[-len(expected):])
    if got != expected:
        raise ShapeMismatch(f"expects the last dims to be {_tuple(expected)}, gets {_tuple(got)}")
    return TensorType(x.shape, x.dtype)


def lp_normalize(node, x):
    normalize_axis(node.attrs["dim"], len(x.shape))
    return TensorType(x.shape, x.dtype)


def norm_label(attrs, weights):
    shape = weights.get("weight") or weights.get("running_mean")
    return {"features": dims_label(shape)} if shape else {}


BATCH_NORM = define("batch_norm", shape=per_channel, macs=NO_MACS, label=norm_label)
BATCH_STATS_NORM = define("batch_stats_norm", shape=batch_stats_norm, macs=NO_MACS, label=norm_label)
INSTANCE_NORM = define("instance_norm", shape=spatial_channels, macs=NO_MACS, label=norm_label)
LRN = define("lrn", shape=spatial_channels, macs=NO_MACS)
GROUP_NORM = define("group_norm", shape=group_norm, macs=NO_MACS, label=norm_label)
LAYER_NORM = define("layer_norm", shape=trailing, macs=NO_MACS, label=norm_label)
RMS_NORM = define("rms_norm", shape=trailing, macs=NO_MACS, label=norm_label)
LP_NORMALIZE = define("lp_normalize", shape=lp_normalize, macs=NO_MACS)
