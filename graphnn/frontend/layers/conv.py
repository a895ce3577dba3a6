"""Rules for nn.Conv1d/2d/3d."""
import torch.nn as nn

from graphnn.frontend.rules import module_rule


def conv_padding(b, module, spatial: int) -> list:
    """torch's padding (int, tuple, 'valid' or 'same') as per-dim symmetric ints."""
    padding = module.padding
    if padding == "valid":
        return [0] * spatial
    if padding == "same":
        totals = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
        if any(t % 2 for t in totals):
            raise b.unsupported("padding='same' with an even kernel (asymmetric padding)")
        return [t // 2 for t in totals]
    return list(padding)


@module_rule(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def conv_layer(b, module, x):
    spatial = len(module.kernel_size)
    if module.padding_mode != "zeros":
        raise b.unsupported(f"padding_mode={module.padding_mode!r}")
    return b.emit(
        f"conv{spatial}d", [x], params={"weight": module.weight, "bias": module.bias},
        stride=list(module.stride), padding=conv_padding(b, module, spatial),
        dilation=list(module.dilation), groups=module.groups,
    )
