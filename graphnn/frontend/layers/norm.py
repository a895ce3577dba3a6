"""Rules for normalisation layers, traced in eval mode.

Canonical ops: ``batch_norm`` (running statistics: BatchNorm, and InstanceNorm with
track_running_stats), ``batch_stats_norm`` (BatchNorm normalising by the statistics of
the batch it is given), ``instance_norm``, ``layer_norm``, ``group_norm``, ``rms_norm``,
``lrn`` and ``lp_normalize``. Affine tensors are params; functional spellings get them
as Refs of constant nodes (module parameters and buffers), whose tensors are read here.
An affine weight or bias computed in forward (timm's ScaledStdConv: ``gain * scale``) is
a Mul / Add along the channel dim after the norm without one.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.layers.elementwise import binary
from graphnn.frontend.layers.shape import emit_reshape
from graphnn.frontend.rules import Ref, function_rule, function_rule_for, module_rule
from graphnn.ops.elementwise import ADD, MUL
from graphnn.ops.norm import (BATCH_NORM, BATCH_STATS_NORM, GROUP_NORM, INSTANCE_NORM, LAYER_NORM, LP_NORMALIZE, LRN,
                              RMS_NORM)
from graphnn.tensors import torch_dtype

# accepted input ranks per layer class (torch raises on any other)
_BATCH_NORM_RANKS = {
    nn.BatchNorm1d: (2, 3), nn.BatchNorm2d: (4,), nn.BatchNorm3d: (5,), nn.SyncBatchNorm: (2, 3, 4, 5),
}
_INSTANCE_NORM_RANKS = {nn.InstanceNorm1d: 3, nn.InstanceNorm2d: 4, nn.InstanceNorm3d: 5}


def _expect_rank(b, x, ranks):
    """A ShapeError worded like the shape rules' when a layer gets a rank torch rejects."""
    rank = b.rank(x)
    if rank not in ranks:
        names = [f"{r}-d" for r in ranks]
        wanted = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise b.shape_error(f"expects a {wanted} input, gets {rank}-d")


def _static_shape(b, shape):
    """normalized_shape as a list of ints (an int, a tuple, or traced sizes of known value)."""
    dims = [shape] if isinstance(shape, int) else list(shape)
    known = [b.value(d).known if isinstance(d, Ref) else d for d in dims]
    if not all(isinstance(d, int) for d in known):
        raise b.unsupported(f"normalized_shape {dims} that is not known at export time")
    return known


# ----------------------------------------------------------------- batch / instance
def _batch_norm(b, x, running_mean, running_var, weight, bias, batch_stats, eps):
    affine = {"weight": weight, "bias": bias}
    if batch_stats:
        return b.emit(BATCH_STATS_NORM, [x], params=affine, eps=float(eps))
    if running_mean is None or running_var is None:
        raise b.unsupported("batch_norm in eval mode without running statistics")
    stats = {"running_mean": running_mean, "running_var": running_var}
    return b.emit(BATCH_NORM, [x], params={**stats, **affine}, eps=float(eps))


def _instance_norm(b, x, running_mean, running_var, weight, bias, use_input_stats, eps):
    if not use_input_stats:  # tracked statistics in eval: a per-channel batch_norm
        return _batch_norm(b, x, running_mean, running_var, weight, bias, False, eps)
    return b.emit(INSTANCE_NORM, [x], params={"weight": weight, "bias": bias}, eps=float(eps))


@module_rule(*_BATCH_NORM_RANKS)
def batch_norm_layer(b, module, x):
    """Eval BatchNorm uses running statistics, or batch statistics when it tracks none."""
    _expect_rank(b, x, _BATCH_NORM_RANKS[type(module)])
    return _batch_norm(b, x, module.running_mean, module.running_var, module.weight, module.bias,
                       module.running_mean is None, module.eps)


def _channel_affine(b, y, weight, bias):
    """``y * weight + bias`` with (C,) tensors along dim 1 (either may be None)."""
    along_channels = [-1] + [1] * (b.rank(y) - 2)
    if weight is not None:
        y = binary(b, MUL, y, emit_reshape(b, weight, along_channels))
    if bias is not None:
        y = binary(b, ADD, y, emit_reshape(b, bias, along_channels))
    return y


@function_rule(F.batch_norm)
def batch_norm(b, x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    if b.is_computed(weight) or b.is_computed(bias):
        y = batch_norm(b, x, running_mean, running_var, None, None, training, momentum, eps)
        return _channel_affine(b, y, weight, bias)
    tensors = [b.module_tensor(t, what) for t, what in (
        (running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"), (bias, "bias"))]
    return _batch_norm(b, x, *tensors, training, eps)


@module_rule(*_INSTANCE_NORM_RANKS)
def instance_norm_layer(b, module, x):
    rank = _INSTANCE_NORM_RANKS[type(module)]
    if b.rank(x) == rank - 1:
        raise b.unsupported("an unbatched input to InstanceNorm")
    _expect_rank(b, x, (rank,))
    return _instance_norm(b, x, module.running_mean, module.running_var, module.weight, module.bias,
                          not module.track_running_stats, module.eps)


@function_rule(F.instance_norm)
def instance_norm(b, x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    if b.is_computed(weight) or b.is_computed(bias):
        y = instance_norm(b, x, running_mean, running_var, None, None, use_input_stats, momentum, eps)
        return _channel_affine(b, y, weight, bias)
    tensors = [b.module_tensor(t, what) for t, what in (
        (running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"), (bias, "bias"))]
    return _instance_norm(b, x, *tensors, use_input_stats, eps)


# ------------------------------------------------------------- layer / rms / group
def _layer_norm(b, x, normalized_shape, weight, bias, eps):
    return b.emit(LAYER_NORM, [x], params={"weight": weight, "bias": bias},
                  normalized_shape=_static_shape(b, normalized_shape), eps=float(eps))


@module_rule(nn.LayerNorm)
def layer_norm_layer(b, module, x):
    return _layer_norm(b, x, module.normalized_shape, module.weight, module.bias, module.eps)


@function_rule(F.layer_norm, torch.layer_norm)
def layer_norm(b, x, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _layer_norm(b, x, normalized_shape, b.module_tensor(weight, "weight"),
                       b.module_tensor(bias, "bias"), eps)


def _rms_norm(b, x, normalized_shape, weight, eps):
    """eps=None is torch's default: the machine epsilon of the input's dtype."""
    eps = torch.finfo(torch_dtype(b.dtype(x))).eps if eps is None else eps
    return b.emit(RMS_NORM, [x], params={"weight": weight},
                  normalized_shape=_static_shape(b, normalized_shape), eps=float(eps))


@module_rule(nn.RMSNorm)
def rms_norm_layer(b, module, x):
    return _rms_norm(b, x, module.normalized_shape, module.weight, module.eps)


@function_rule(F.rms_norm, torch.rms_norm)
def rms_norm(b, x, normalized_shape, weight=None, eps=None):
    """A weight computed in forward (timm's ``self.weight.float()``) multiplies the normalized x."""
    if isinstance(weight, Ref) and b.constant_value(weight) is None:
        return binary(b, MUL, _rms_norm(b, x, normalized_shape, None, eps), weight)
    return _rms_norm(b, x, normalized_shape, b.module_tensor(weight, "weight"), eps)


def _group_norm(b, x, num_groups, weight, bias, eps):
    return b.emit(GROUP_NORM, [x], params={"weight": weight, "bias": bias},
                  num_groups=int(num_groups), eps=float(eps))


@module_rule(nn.GroupNorm)
def group_norm_layer(b, module, x):
    return _group_norm(b, x, module.num_groups, module.weight, module.bias, module.eps)


@function_rule(F.group_norm, torch.group_norm)
def group_norm(b, x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return _group_norm(b, x, num_groups, b.module_tensor(weight, "weight"), b.module_tensor(bias, "bias"), eps)


# ---------------------------------------------------------------- lrn / normalize
@module_rule(nn.LocalResponseNorm)
def local_response_norm_layer(b, module, x):
    return local_response_norm(b, x, module.size, module.alpha, module.beta, module.k)


@function_rule(F.local_response_norm)
def local_response_norm(b, x, size, alpha=1e-4, beta=0.75, k=1.0):
    return b.emit(LRN, [x], size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))


@function_rule(F.normalize)
def normalize(b, x, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along dim; p must be positive (p=0 counts nonzeros)."""
    if not p > 0:
        raise b.unsupported(f"F.normalize with p={p}")
    return b.emit(LP_NORMALIZE, [x], p=float(p), dim=int(dim), eps=float(eps))


@function_rule(torch._weight_norm)
def weight_norm(b, v, g, dim=0):
    """``v * g / ||v||`` over every dim but ``dim`` (the weight of a ``weight_norm``-parametrized
    layer, wav2vec2's positional conv): computed once when v and g are the model's tensors,
    as the layer's forward computes it each call; else Norm, Div and Mul on the graph."""
    weight, gain = b.constant_value(v), b.constant_value(g)
    if weight is not None and gain is not None:
        return b.constant(torch._weight_norm(weight, gain, dim))
    kept = dim % b.rank(v) if dim != -1 else None
    reduced = [d for d in range(b.rank(v)) if d != kept]
    norms = function_rule_for(torch.linalg.vector_norm)(b, v, 2, reduced, True)
    return function_rule_for(torch.mul)(b, v, function_rule_for(torch.div)(b, g, norms))
