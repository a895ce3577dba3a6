"""Shape rules for pooling: ``max_pool{1,2,3}d``, ``avg_pool{1,2,3}d``, ``lp_pool{1,2,3}d``,
``global_avg_pool`` / ``global_max_pool`` and ``adaptive_avg_pool`` / ``adaptive_max_pool``.

attrs: kernel, stride, pads (ONNX order: begins, then ends), ceil_mode (torch's rule:
the last window must start inside the input or the begin padding); max_pool adds
dilation, avg_pool count_include_pad, lp_pool p. Global pools: spatial (how many
trailing dims they reduce to 1). Adaptive pools: output_size (None keeps a dim).
"""
from graphnn.ops.conv import check_channels_first, window_dims
from graphnn.ops.dims import dims_label
from graphnn.ops.opdef import NO_MACS, define
from graphnn.ops.registry import TensorType


def window_pool(node, x):
    kernel = node.attrs["kernel"]
    check_channels_first(x, len(kernel), None)
    return TensorType(x.shape[:2] + tuple(window_dims(node, x, kernel)), x.dtype)


def global_pool(node, x):
    spatial = node.attrs["spatial"]
    check_channels_first(x, spatial, None)
    return TensorType(x.shape[:2] + (1,) * spatial, x.dtype)


def adaptive_pool(node, x):
    """attrs: output_size per spatial dim (None keeps the input's size)."""
    outs = node.attrs["output_size"]
    check_channels_first(x, len(outs), None)
    return TensorType(x.shape[:2] + tuple(size if out is None else out for size, out in zip(x.shape[2:], outs)),
                      x.dtype)


def window_label(attrs, weights):
    return {"kernel": dims_label(attrs.get("kernel", ())), "stride": dims_label(attrs.get("stride", ()))}


MAX_POOL1D = define("max_pool1d", shape=window_pool, macs=NO_MACS, label=window_label)
MAX_POOL2D = define("max_pool2d", shape=window_pool, macs=NO_MACS, label=window_label)
MAX_POOL3D = define("max_pool3d", shape=window_pool, macs=NO_MACS, label=window_label)
AVG_POOL1D = define("avg_pool1d", shape=window_pool, macs=NO_MACS, label=window_label)
AVG_POOL2D = define("avg_pool2d", shape=window_pool, macs=NO_MACS, label=window_label)
AVG_POOL3D = define("avg_pool3d", shape=window_pool, macs=NO_MACS, label=window_label)
LP_POOL1D = define("lp_pool1d", shape=window_pool, macs=NO_MACS, label=window_label)
LP_POOL2D = define("lp_pool2d", shape=window_pool, macs=NO_MACS, label=window_label)
LP_POOL3D = define("lp_pool3d", shape=window_pool, macs=NO_MACS, label=window_label)
GLOBAL_AVG_POOL = define("global_avg_pool", shape=global_pool, macs=NO_MACS)
GLOBAL_MAX_POOL = define("global_max_pool", shape=global_pool, macs=NO_MACS)
ADAPTIVE_AVG_POOL = define("adaptive_avg_pool", shape=adaptive_pool, macs=NO_MACS)
ADAPTIVE_MAX_POOL = define("adaptive_max_pool", shape=adaptive_pool, macs=NO_MACS)

MAX_POOL = {1: MAX_POOL1D, 2: MAX_POOL2D, 3: MAX_POOL3D}
AVG_POOL = {1: AVG_POOL1D, 2: AVG_POOL2D, 3: AVG_POOL3D}
LP_POOL = {1: LP_POOL1D, 2: LP_POOL2D, 3: LP_POOL3D}
GLOBAL_POOL = {"avg": GLOBAL_AVG_POOL, "max": GLOBAL_MAX_POOL}
ADAPTIVE_POOL = {"avg": ADAPTIVE_AVG_POOL, "max": ADAPTIVE_MAX_POOL}
