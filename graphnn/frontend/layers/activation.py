"""Rules for activations: module, functional, torch.* and Tensor-method spellings
all become one canonical op."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.rules import function_rule, method_rule, module_rule


@module_rule(nn.ReLU)
def relu_layer(b, module, x):
    return b.emit("relu", [x])


@function_rule(F.relu, torch.relu, torch.relu_, F.relu_)
@method_rule("relu", "relu_")
def relu(b, x, inplace=False):
    return b.emit("relu", [x])
