"""Lazy layers (nn.LazyLinear, nn.LazyConv2d, nn.LazyBatchNorm2d...) learn their weight
shapes at their first forward pass and then *become* their plain class (``cls_to_become``).
``trace_model`` makes that first call with the example inputs before tracing, so the rules
of the plain classes convert them; this rule only names the layer if one is reached anyway."""
import torch.nn as nn

from graphnn.frontend.rules import module_rule

LAZY_LAYERS = tuple(getattr(nn, name) for name in dir(nn)
                    if name.startswith("Lazy") and hasattr(getattr(nn, name), "cls_to_become"))


@module_rule(*LAZY_LAYERS)
def lazy_layer(b, module, *args, **kwargs):
    raise b.unsupported(f"an uninitialised {type(module).__name__} (run one forward pass first, "
                        f"so it becomes {module.cls_to_become.__name__})")
