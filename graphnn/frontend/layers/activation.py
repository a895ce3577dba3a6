"""Rules for activations: the module, functional, torch.* and Tensor-method spellings
of one activation (in-place variants and ``inplace=True`` included) all become one
canonical op whose attrs hold its parameters.

In-place spellings convert as their out-of-place form: fx records the call's result,
and that is what the code after it reads. Eval-mode randomness is resolved here:
RReLU becomes a leaky_relu with the mean slope, ReLU6 a hardtanh from 0 to 6.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.rules import function_rule, method_rule, module_rule
from graphnn.ops.activation import (CELU, ELU, GELU, GLU, HARDSHRINK, HARDSIGMOID, HARDSWISH, HARDTANH, LEAKY_RELU,
                                    LOGSIGMOID, LOG_SOFTMAX, MISH, PRELU, RELU, SELU, SIGMOID, SILU, SOFTMAX, SOFTMIN,
                                    SOFTPLUS, SOFTSHRINK, SOFTSIGN, TANH, TANHSHRINK, THRESHOLD)
from graphnn.tensors import dtype_name, is_float

# Activations without parameters: op -> (layers, functions, Tensor methods).
_PLAIN = {
    RELU: ((nn.ReLU,), (F.relu, torch.relu, torch.relu_), ("relu", "relu_")),
    SELU: ((nn.SELU,), (F.selu, torch.selu, torch.selu_), ()),
    SIGMOID: ((nn.Sigmoid,), (F.sigmoid, torch.sigmoid, torch.sigmoid_), ("sigmoid", "sigmoid_")),
    TANH: ((nn.Tanh,), (F.tanh, torch.tanh, torch.tanh_), ("tanh", "tanh_")),
    SILU: ((nn.SiLU,), (F.silu,), ()),
    MISH: ((nn.Mish,), (F.mish,), ()),
    SOFTSIGN: ((nn.Softsign,), (F.softsign,), ()),
    HARDSIGMOID: ((nn.Hardsigmoid,), (F.hardsigmoid,), ()),
    HARDSWISH: ((nn.Hardswish,), (F.hardswish,), ()),
    LOGSIGMOID: ((nn.LogSigmoid,), (F.logsigmoid,), ()),
    TANHSHRINK: ((nn.Tanhshrink,), (F.tanhshrink,), ()),
}


def _plain_rules(op):
    def layer(b, module, x):
        return b.emit(op, [x])

    def function(b, x, inplace=False):
        return b.emit(op, [x])

    return layer, function


for _op, (_layers, _functions, _methods) in _PLAIN.items():
    _layer, _function = _plain_rules(_op)
    module_rule(*_layers)(_layer)
    function_rule(*_functions)(_function)
    method_rule(*_methods)(_function)


# ------------------------------------------------------------ piecewise linear
@module_rule(nn.Hardtanh, nn.ReLU6)  # ReLU6 is a Hardtanh(0, 6)
def hardtanh_layer(b, module, x):
    return hardtanh(b, x, module.min_val, module.max_val)


@function_rule(F.hardtanh, F.hardtanh_)
def hardtanh(b, x, min_val=-1.0, max_val=1.0, inplace=False):
    return b.emit(HARDTANH, [x], min_val=float(min_val), max_val=float(max_val))


@function_rule(F.relu6)
def relu6(b, x, inplace=False):
    return hardtanh(b, x, 0.0, 6.0)


@module_rule(nn.LeakyReLU)
def leaky_relu_layer(b, module, x):
    return leaky_relu(b, x, module.negative_slope)


@function_rule(F.leaky_relu, F.leaky_relu_)
def leaky_relu(b, x, negative_slope=0.01, inplace=False):
    return b.emit(LEAKY_RELU, [x], negative_slope=float(negative_slope))


@module_rule(nn.RReLU)
def rrelu_layer(b, module, x):
    return rrelu(b, x, module.lower, module.upper)


@function_rule(F.rrelu, torch.rrelu, torch.rrelu_)
def rrelu(b, x, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False, generator=None):
    """Eval-mode RReLU is deterministic: a leaky ReLU with the mean slope."""
    if training:
        raise b.unsupported("rrelu with training=True (random slopes)")
    return leaky_relu(b, x, (lower + upper) / 2)


@module_rule(nn.PReLU)
def prelu_layer(b, module, x):
    return b.emit(PRELU, [x], params={"weight": module.weight})


@function_rule(F.prelu)  # F.prelu is torch.prelu
@method_rule("prelu")
def prelu(b, x, weight):
    return b.emit(PRELU, [x], params={"weight": b.module_tensor(weight, "prelu weight")})


@module_rule(nn.Threshold)
def threshold_layer(b, module, x):
    return threshold(b, x, module.threshold, module.value)


@function_rule(F.threshold, torch.threshold, torch.threshold_)  # F.threshold_ is torch.threshold_
def threshold(b, x, threshold, value, inplace=False):
    return b.emit(THRESHOLD, [x], threshold=float(threshold), value=float(value))


@module_rule(nn.Hardshrink)
def hardshrink_layer(b, module, x):
    return hardshrink(b, x, module.lambd)


@function_rule(F.hardshrink)  # F.hardshrink is torch.hardshrink
@method_rule("hardshrink")
def hardshrink(b, x, lambd=0.5):
    return b.emit(HARDSHRINK, [x], lambd=float(lambd))


@module_rule(nn.Softshrink)
def softshrink_layer(b, module, x):
    return softshrink(b, x, module.lambd)


@function_rule(F.softshrink)
def softshrink(b, x, lambd=0.5):
    return b.emit(SOFTSHRINK, [x], lambd=float(lambd))


# ------------------------------------------------------------------ smooth
@module_rule(nn.ELU)
def elu_layer(b, module, x):
    return elu(b, x, module.alpha)


@function_rule(F.elu, F.elu_)
def elu(b, x, alpha=1.0, inplace=False):
    return b.emit(ELU, [x], alpha=float(alpha))


@module_rule(nn.CELU)
def celu_layer(b, module, x):
    return celu(b, x, module.alpha)


@function_rule(F.celu, torch.celu, torch.celu_)  # F.celu_ is torch.celu_
def celu(b, x, alpha=1.0, inplace=False):
    return b.emit(CELU, [x], alpha=float(alpha))


@module_rule(nn.GELU)
def gelu_layer(b, module, x):
    return gelu(b, x, module.approximate)


@function_rule(F.gelu)
def gelu(b, x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise b.unsupported(f"gelu with approximate={approximate!r}")
    return b.emit(GELU, [x], approximate=approximate)


@module_rule(nn.Softplus)
def softplus_layer(b, module, x):
    return softplus(b, x, module.beta, module.threshold)


@function_rule(F.softplus)
def softplus(b, x, beta=1.0, threshold=20.0):
    return b.emit(SOFTPLUS, [x], beta=float(beta), threshold=float(threshold))


# ---------------------------------------------------------- over one dim
def _dim(b, x, dim):
    """A dim as 0..rank-1; an out-of-range one is left for the shape rule to report."""
    span = max(b.rank(x), 1)  # a 0-d input takes dim 0 or -1, as in torch
    return dim % span if -span <= dim < span else dim


def implicit_softmax_dim(rank):
    """torch's legacy choice when softmax is called with dim=None
    (torch.nn.functional._get_softmax_dim): 0 for 0-, 1- and 3-d inputs, else 1."""
    return 0 if rank in (0, 1, 3) else 1


def _softmax_rule(op):
    def rule(b, x, dim=None, _stacklevel=3, dtype=None):
        if dim is None:
            dim = implicit_softmax_dim(b.rank(x))
        if dtype is None:
            out_dtype = b.dtype(x)
        elif is_float(dtype_name(dtype)):
            out_dtype = dtype_name(dtype)
        else:
            raise b.unsupported(f"{op.name} with dtype={dtype}")
        return b.emit(op, [x], dim=_dim(b, x, dim), dtype=out_dtype)
    return rule


softmax = function_rule(F.softmax, torch.softmax)(_softmax_rule(SOFTMAX))
method_rule("softmax")(softmax)
log_softmax = function_rule(F.log_softmax, torch.log_softmax)(_softmax_rule(LOG_SOFTMAX))
method_rule("log_softmax")(log_softmax)
softmin = function_rule(F.softmin)(_softmax_rule(SOFTMIN))


@module_rule(nn.Softmax)
def softmax_layer(b, module, x):
    return softmax(b, x, module.dim)


@module_rule(nn.LogSoftmax)
def log_softmax_layer(b, module, x):
    return log_softmax(b, x, module.dim)


@module_rule(nn.Softmin)
def softmin_layer(b, module, x):
    return softmin(b, x, module.dim)


@module_rule(nn.Softmax2d)
def softmax2d_layer(b, module, x):
    """Softmax over the channels of a (N, C, H, W) or (C, H, W) input."""
    return softmax(b, x, -3)


@module_rule(nn.GLU)
def glu_layer(b, module, x):
    return glu(b, x, module.dim)


@function_rule(F.glu)
def glu(b, x, dim=-1):
    return b.emit(GLU, [x], dim=_dim(b, x, dim))
