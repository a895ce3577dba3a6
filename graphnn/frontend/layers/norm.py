"""Rules for normalisation layers (eval mode: running statistics)."""
import torch.nn as nn

from graphnn.frontend.rules import module_rule


@module_rule(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def batch_norm_layer(b, module, x):
    if module.running_mean is None:
        raise b.unsupported("BatchNorm with track_running_stats=False (it normalises by batch statistics)")
    params = {"running_mean": module.running_mean, "running_var": module.running_var}
    if module.affine:
        params.update(weight=module.weight, bias=module.bias)
    return b.emit("batch_norm", [x], params=params, eps=float(module.eps))
