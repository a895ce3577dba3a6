"""Rules for reshaping: ``view``/``reshape`` (ints or traced sizes such as
``x.size(0)``), ``torch.flatten``/``x.flatten``/``nn.Flatten``."""
import torch
import torch.nn as nn

from graphnn.frontend.rules import Ref, function_rule, method_rule, module_rule


def _shape_args(shape) -> list:
    """view(2, -1), view((2, -1)) and view([2, -1]) all mean the same."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
        return list(shape[0])
    return list(shape)


def emit_reshape(b, x, dims):
    """One reshape op: int entries stay attrs, traced sizes become int64 inputs."""
    entries, dynamic = [], []
    for d in dims:
        if isinstance(d, Ref):
            entries.append(None)
            dynamic.append(d)
        elif isinstance(d, int):
            entries.append(d)
        else:
            raise b.unsupported(f"a reshape dim of type {type(d).__name__}")
    return b.emit("reshape", [x, *dynamic], shape=entries)


@method_rule("view", "reshape")
def view(b, x, *shape):
    return emit_reshape(b, x, _shape_args(shape))


@function_rule(torch.reshape)
def reshape(b, x, shape):
    return emit_reshape(b, x, list(shape))


@function_rule(torch.flatten)
@method_rule("flatten")
def flatten(b, x, start_dim=0, end_dim=-1):
    return b.emit("flatten", [x], start_dim=start_dim, end_dim=end_dim)


@module_rule(nn.Flatten)
def flatten_layer(b, module, x):
    return b.emit("flatten", [x], start_dim=module.start_dim, end_dim=module.end_dim)
