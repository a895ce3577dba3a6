"""Run a model in eval mode without changing the caller's model (as torchinfo does):
every submodule's own ``training`` flag is restored afterwards, mixed modes included."""
from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.training = training
