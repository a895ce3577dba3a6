"""Rules for max pooling layers."""
import torch.nn as nn

from graphnn.frontend.rules import module_rule


def per_dim(value, spatial: int) -> list:
    """torch accepts an int or a tuple per pooling argument: always a list here."""
    return list(value) if isinstance(value, (tuple, list)) else [value] * spatial


@module_rule(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def max_pool_layer(b, module, x):
    spatial = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(module)]
    if module.return_indices:
        raise b.unsupported("MaxPool with return_indices=True")
    kernel = per_dim(module.kernel_size, spatial)
    return b.emit(
        f"max_pool{spatial}d", [x], kernel=kernel,
        stride=per_dim(module.stride or module.kernel_size, spatial),
        padding=per_dim(module.padding, spatial), dilation=per_dim(module.dilation, spatial),
        ceil_mode=bool(module.ceil_mode),
    )
