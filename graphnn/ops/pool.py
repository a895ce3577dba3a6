"""Shape rules for pooling: ``max_pool{1,2,3}d``, ``avg_pool{1,2,3}d``, ``lp_pool{1,2,3}d``,
``global_avg_pool`` / ``global_max_pool`` and ``adaptive_avg_pool`` / ``adaptive_max_pool``.

attrs: kernel, stride, pads (ONNX order: begins, then ends), ceil_mode (torch's rule:
the last window must start inside the input or the begin padding); max_pool adds
dilation, avg_pool count_include_pad, lp_pool p. Global pools: spatial (how many
trailing dims they reduce to 1). Adaptive pools: output_size (None keeps a dim).
"""
from graphnn.ops.conv import check_channels_first, window_dims
from graphnn.ops.registry import TensorType, shape_rule

WINDOW_POOLS = [f"{kind}_pool{n}d" for kind in ("max", "avg", "lp") for n in (1, 2, 3)]


@shape_rule(*WINDOW_POOLS)
def window_pool(node, x):
    kernel = node.attrs["kernel"]
    check_channels_first(x, len(kernel), None)
    return TensorType(x.shape[:2] + tuple(window_dims(node, x, kernel)), x.dtype)


@shape_rule("global_avg_pool", "global_max_pool")
def global_pool(node, x):
    spatial = node.attrs["spatial"]
    check_channels_first(x, spatial, None)
    return TensorType(x.shape[:2] + (1,) * spatial, x.dtype)


@shape_rule("adaptive_avg_pool", "adaptive_max_pool")
def adaptive_pool(node, x):
    """attrs: output_size per spatial dim (None keeps the input's size)."""
    outs = node.attrs["output_size"]
    check_channels_first(x, len(outs), None)
    return TensorType(x.shape[:2] + tuple(size if out is None else out for size, out in zip(x.shape[2:], outs)),
                      x.dtype)
