"""Rules for losses as models (``forward(pred, target)``): the nn.*Loss layers and their
functional spellings (F.cross_entropy, F.mse_loss...), one IR op per loss.

Every op has inputs ``[input, target]``, a ``reduction`` attr ('none' / 'mean' / 'sum',
and 'batchmean' for kl_div) and its weights as params. torch's legacy ``size_average`` /
``reduce`` arguments are turned into the reduction they stand for, as torch does.
``cross_entropy`` keeps ``label_smoothing`` and says whether the target holds class
indices or class probabilities (a float target of the input's shape).
"""
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import _reduction as legacy

from graphnn.frontend.layers.elementwise import promote
from graphnn.frontend.rules import function_rule, module_rule
from graphnn.ops.loss import (BINARY_CROSS_ENTROPY, BINARY_CROSS_ENTROPY_WITH_LOGITS, CROSS_ENTROPY, HUBER_LOSS, KL_DIV,
                              L1_LOSS, MSE_LOSS, NLL_LOSS, SMOOTH_L1_LOSS)

REDUCTIONS = ("none", "mean", "sum")


def _reduction(b, reduction, size_average=None, reduce=None, allowed=REDUCTIONS):
    if size_average is not None or reduce is not None:
        reduction = legacy.legacy_get_string(size_average, reduce, emit_warning=False)
    if reduction not in allowed:
        raise b.unsupported(f"reduction={reduction!r} (torch knows {', '.join(map(repr, allowed))})")
    return reduction


def _elementwise(b, op, input, target, reduction, weight=None, **attrs):
    """A loss computed per element, then reduced; input and target of one dtype."""
    input, target = promote(b, input, target)
    return b.emit(op, [input, target], params={"weight": weight}, reduction=reduction, **attrs)


# ------------------------------------------------------------ class losses
def _class_loss(b, op, input, target, weight, ignore_index, reduction, **attrs):
    return b.emit(op, [input, target], params={"weight": weight}, reduction=reduction,
                  ignore_index=ignore_index, **attrs)


def _cross_entropy(b, input, target, weight, ignore_index, reduction, label_smoothing):
    if not 0.0 <= label_smoothing <= 1.0:
        raise b.unsupported(f"label_smoothing={label_smoothing} (torch wants a value in [0, 1])")
    shape = b.shape(input)
    classes = shape[1 if len(shape) >= 2 else 0] if shape else None
    if label_smoothing > 0 and not isinstance(classes, int):
        raise b.unsupported(f"label_smoothing with a number of classes ({classes}) that varies at run time "
                            f"(smoothing spreads label_smoothing / classes; keep the class dim static)")
    probabilities = b.dtype(target) not in ("int64", "int32")
    return _class_loss(b, CROSS_ENTROPY, input, target, weight, ignore_index, reduction,
                       label_smoothing=float(label_smoothing), probabilities=probabilities)


@module_rule(nn.CrossEntropyLoss)
def cross_entropy_layer(b, module, input, target):
    return _cross_entropy(b, input, target, module.weight, module.ignore_index, _reduction(b, module.reduction),
                          module.label_smoothing)


@function_rule(F.cross_entropy)
def cross_entropy(b, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    return _cross_entropy(b, input, target, b.module_tensor(weight, "class weight"), ignore_index,
                          _reduction(b, reduction, size_average, reduce), label_smoothing)


@module_rule(nn.NLLLoss)
def nll_loss_layer(b, module, input, target):
    return _class_loss(b, NLL_LOSS, input, target, module.weight, module.ignore_index,
                       _reduction(b, module.reduction))


@function_rule(F.nll_loss)
def nll_loss(b, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    return _class_loss(b, NLL_LOSS, input, target, b.module_tensor(weight, "class weight"), ignore_index,
                       _reduction(b, reduction, size_average, reduce))


# ------------------------------------------------------- regression losses
@module_rule(nn.MSELoss)
def mse_loss_layer(b, module, input, target):
    return _elementwise(b, MSE_LOSS, input, target, _reduction(b, module.reduction))


@function_rule(F.mse_loss)
def mse_loss(b, input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """With ``weight`` torch's mean divides by the sum of the weights."""
    return _elementwise(b, MSE_LOSS, input, target, _reduction(b, reduction, size_average, reduce),
                        b.module_tensor(weight, "loss weight"))


@module_rule(nn.L1Loss)
def l1_loss_layer(b, module, input, target):
    return _elementwise(b, L1_LOSS, input, target, _reduction(b, module.reduction))


@function_rule(F.l1_loss)
def l1_loss(b, input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _elementwise(b, L1_LOSS, input, target, _reduction(b, reduction, size_average, reduce),
                        b.module_tensor(weight, "loss weight"))


@module_rule(nn.SmoothL1Loss)
def smooth_l1_loss_layer(b, module, input, target):
    return smooth_l1_loss(b, input, target, reduction=module.reduction, beta=module.beta)


@function_rule(F.smooth_l1_loss)
def smooth_l1_loss(b, input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """beta = 0 is the L1 loss (torch switches too: the quadratic part would divide by 0)."""
    if beta < 0:
        raise b.unsupported(f"beta={beta} (torch wants beta >= 0)")
    reduction = _reduction(b, reduction, size_average, reduce)
    if beta == 0:
        return _elementwise(b, L1_LOSS, input, target, reduction)
    return _elementwise(b, SMOOTH_L1_LOSS, input, target, reduction, beta=float(beta))


@module_rule(nn.HuberLoss)
def huber_loss_layer(b, module, input, target):
    return huber_loss(b, input, target, reduction=module.reduction, delta=module.delta)


@function_rule(F.huber_loss)
def huber_loss(b, input, target, reduction="mean", delta=1.0, weight=None):
    """With ``weight`` torch's mean is the plain mean of the weighted losses."""
    if delta <= 0:
        raise b.unsupported(f"delta={delta} (torch wants delta > 0)")
    return _elementwise(b, HUBER_LOSS, input, target, _reduction(b, reduction),
                        b.module_tensor(weight, "loss weight"), delta=float(delta))


# --------------------------------------------------- probabilistic losses
@module_rule(nn.BCELoss)
def bce_loss_layer(b, module, input, target):
    return _elementwise(b, BINARY_CROSS_ENTROPY, input, target, _reduction(b, module.reduction), module.weight)


@function_rule(F.binary_cross_entropy)
def binary_cross_entropy(b, input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    return _elementwise(b, BINARY_CROSS_ENTROPY, input, target, _reduction(b, reduction, size_average, reduce),
                        b.module_tensor(weight, "loss weight"))


def _bce_with_logits(b, input, target, weight, pos_weight, reduction):
    input, target = promote(b, input, target)
    return b.emit(BINARY_CROSS_ENTROPY_WITH_LOGITS, [input, target],
                  params={"weight": weight, "pos_weight": pos_weight}, reduction=reduction)


@module_rule(nn.BCEWithLogitsLoss)
def bce_with_logits_loss_layer(b, module, input, target):
    return _bce_with_logits(b, input, target, module.weight, module.pos_weight, _reduction(b, module.reduction))


@function_rule(F.binary_cross_entropy_with_logits)
def binary_cross_entropy_with_logits(b, input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    return _bce_with_logits(b, input, target, b.module_tensor(weight, "loss weight"),
                            b.module_tensor(pos_weight, "pos_weight"),
                            _reduction(b, reduction, size_average, reduce))


KL_REDUCTIONS = REDUCTIONS + ("batchmean",)


@module_rule(nn.KLDivLoss)
def kl_div_layer(b, module, input, target):
    return kl_div(b, input, target, reduction=module.reduction, log_target=module.log_target)


@function_rule(F.kl_div)
def kl_div(b, input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """'mean' averages over every element; 'batchmean' divides the sum by the batch size."""
    reduction = _reduction(b, reduction, size_average, reduce, allowed=KL_REDUCTIONS)
    if reduction == "batchmean" and b.rank(input) == 0:
        reduction = "sum"  # torch: a 0-d input has no batch to divide by
    return _elementwise(b, KL_DIV, input, target, reduction, log_target=bool(log_target))
