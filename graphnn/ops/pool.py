"""Shape rules for pooling: ``max_pool{1,2,3}d``.

attrs: kernel, stride, padding (per-dim ints), dilation, ceil_mode.
"""
from graphnn.ops.conv import check_channels_first
from graphnn.ops.dims import window_out
from graphnn.ops.registry import TensorType, shape_rule


@shape_rule("max_pool1d", "max_pool2d", "max_pool3d")
def max_pool(node, x):
    a = node.attrs
    spatial = len(a["kernel"])
    check_channels_first(x, spatial, None)
    dims = [
        window_out(x.shape[2 + i], a["kernel"][i], a["stride"][i], 2 * a["padding"][i],
                   a["dilation"][i], a["ceil_mode"], fresh=f"{node.name}_d{2 + i}")
        for i in range(spatial)
    ]
    return TensorType(x.shape[:2] + tuple(dims), x.dtype)
