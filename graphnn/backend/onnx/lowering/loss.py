"""Lowerings of losses, written as a person would by hand, to torch's exact definitions.

Class indices use ONNX's own losses, which share torch's weight / ignore_index /
reduction semantics (a weighted mean divides by the weights of the kept targets):
NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 13). Label smoothing and
probability targets are composed from LogSoftmax and ReduceSum, as torch composes them;
graphnn never drops ``label_smoothing``. Elementwise losses are a few arithmetic nodes
then one Reduce* node (BCE clamps its logs at -100; BCE with logits uses torch's
overflow-free softplus).
"""
from graphnn.backend.onnx.context import onnx_dtype
from graphnn.backend.onnx.lowering.reduce import reduce
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.loss import (BINARY_CROSS_ENTROPY, BINARY_CROSS_ENTROPY_WITH_LOGITS, CROSS_ENTROPY, HUBER_LOSS, KL_DIV,
                              L1_LOSS, MSE_LOSS, NLL_LOSS, SMOOTH_L1_LOSS, class_dim)

# With a weight, torch's mean of these divides by the sum of the weights; of the others
# (huber, BCE) it is the plain mean of the weighted losses.
MEAN_OVER_WEIGHTS = {MSE_LOSS.name, L1_LOSS.name}


def _dtype(ctx, node):
    return ctx.graph.values[node.inputs[0]].dtype


def _scalar(ctx, node, value, hint):
    return ctx.const(value, dtype=_dtype(ctx, node), hint=hint)


# ------------------------------------------------------------ elementwise
def _difference(ctx, node, x, t, out=None):
    return ctx.add1("Abs", [ctx.add1("Sub", [x, t])], out)


def _mse(ctx, node, x, t, out=None):
    d = ctx.add1("Sub", [x, t])
    return ctx.add1("Mul", [d, d], out)


def _piecewise(ctx, node, x, t, limit, near_factor, far_factor, out):
    """``near_factor`` * d^2 where d = |x - t| < ``limit``, else ``far_factor`` * (d - limit / 2)."""
    d = _difference(ctx, node, x, t)
    near = ctx.add1("Mul", [ctx.add1("Mul", [d, d]), _scalar(ctx, node, near_factor, "near_factor")])
    far = ctx.add1("Sub", [d, _scalar(ctx, node, 0.5 * limit, "half_limit")])
    if far_factor != 1.0:
        far = ctx.add1("Mul", [far, _scalar(ctx, node, far_factor, "far_factor")])
    return ctx.add1("Where", [ctx.add1("Less", [d, _scalar(ctx, node, limit, "limit")]), near, far], out)


def _smooth_l1(ctx, node, x, t, out=None):
    """0.5 d^2 / beta below beta, d - beta / 2 above (beta > 0: the frontend maps 0 to L1)."""
    beta = node.attrs["beta"]
    return _piecewise(ctx, node, x, t, beta, 0.5 / beta, 1.0, out)


def _huber(ctx, node, x, t, out=None):
    """0.5 d^2 below delta, delta * (d - delta / 2) above."""
    delta = node.attrs["delta"]
    return _piecewise(ctx, node, x, t, delta, 0.5, delta, out)


def _bce(ctx, node, x, t, out=None):
    """(t - 1) * max(log(1 - x), -100) - t * max(log(x), -100), as torch writes it."""
    floor = _scalar(ctx, node, -100.0, "log_floor")
    one = _scalar(ctx, node, 1.0, "one")
    log_x = ctx.add1("Max", [ctx.add1("Log", [x]), floor])
    log_rest = ctx.add1("Max", [ctx.add1("Log", [ctx.add1("Sub", [one, x])]), floor])
    miss = ctx.add1("Mul", [ctx.add1("Sub", [t, one]), log_rest])
    return ctx.add1("Sub", [miss, ctx.add1("Mul", [t, log_x])], out)


def _bce_with_logits(ctx, node, x, t, out=None):
    """(1 - t) * x + w_pos * softplus(-x), softplus(-x) = m + log(exp(-m) + exp(-x - m)) with
    m = max(-x, 0) as in torch; w_pos = (pos_weight - 1) * t + 1 (1 without pos_weight)."""
    one = _scalar(ctx, node, 1.0, "one")
    negated = ctx.add1("Neg", [x])
    m = ctx.add1("Relu", [negated])
    both = ctx.add1("Add", [ctx.add1("Exp", [ctx.add1("Neg", [m])]), ctx.add1("Exp", [ctx.add1("Sub", [negated, m])])])
    softplus = ctx.add1("Add", [ctx.add1("Log", [both]), m])
    if "pos_weight" in node.params:
        pos = ctx.add1("Sub", [ctx.param(node, "pos_weight"), one])
        softplus = ctx.add1("Mul", [ctx.add1("Add", [ctx.add1("Mul", [pos, t]), one]), softplus])
    linear = ctx.add1("Mul", [ctx.add1("Sub", [one, t]), x])
    return ctx.add1("Add", [linear, softplus], out)


def _kl_div(ctx, node, x, t, out=None):
    """exp(t) * (t - x) for log targets, else xlogy(t, t) - t * x (0 where t = 0)."""
    if node.attrs["log_target"]:
        return ctx.add1("Mul", [ctx.add1("Exp", [t]), ctx.add1("Sub", [t, x])], out)
    zero = _scalar(ctx, node, 0.0, "zero")
    entropy = ctx.add1("Where", [ctx.add1("Equal", [t, zero]), zero, ctx.add1("Mul", [t, ctx.add1("Log", [t])])])
    return ctx.add1("Sub", [entropy, ctx.add1("Mul", [t, x])], out)


ELEMENTWISE = {
    MSE_LOSS: _mse,
    L1_LOSS: _difference,
    SMOOTH_L1_LOSS: _smooth_l1,
    HUBER_LOSS: _huber,
    BINARY_CROSS_ENTROPY: _bce,
    BINARY_CROSS_ENTROPY_WITH_LOGITS: _bce_with_logits,
    KL_DIV: _kl_div,
}


def _lower_elementwise(terms):
    def lower(ctx, node):
        x, t = ctx.inputs(node)
        reduction, weighted = node.attrs["reduction"], "weight" in node.params
        loss = terms(ctx, node, x, t, ctx.output(node) if reduction == "none" and not weighted else None)
        if weighted:
            loss = ctx.add1("Mul", [loss, ctx.param(node, "weight")], ctx.output(node) if reduction == "none" else None)
        if reduction != "none":
            _reduce_all(ctx, node, loss, ctx.output(node))
    return lower


for _op, _terms in ELEMENTWISE.items():
    lowers(_op)(_lower_elementwise(_terms))


def _reduce_all(ctx, node, loss, output):
    """'sum', 'mean' over every element ('mean' over the weights' sum where torch says so),
    'batchmean': the sum over dim 0 of the input."""
    reduction = node.attrs["reduction"]
    if reduction == "mean" and not ("weight" in node.params and node.op in MEAN_OVER_WEIGHTS):
        return reduce(ctx, "ReduceMean", loss, [], False, output)
    total = reduce(ctx, "ReduceSum", loss, [], False, None if reduction != "sum" else output)
    if reduction == "sum":
        return total
    if reduction == "mean":
        divisor = _scalar(ctx, node, float(node.params["weight"].sum()), "weight_sum")
    else:
        divisor = _size(ctx, node, 0)
    return ctx.add1("Div", [total, divisor], output)


def _size(ctx, node, dim):
    """Dim ``dim`` of the input as a scalar of its dtype (read at run time when dynamic)."""
    size = ctx.graph.values[node.inputs[0]].shape[dim]
    if isinstance(size, int):
        return _scalar(ctx, node, float(size), "size")
    picked = ctx.add1("Gather", [ctx.add1("Shape", [ctx.input(node)]), ctx.const(dim, hint="dim")])
    return ctx.add1("Cast", [picked], to=onnx_dtype(_dtype(ctx, node)))


# ------------------------------------------------------------ class losses
def _batched(ctx, node, x, t):
    """ONNX's losses want (N, C, ...): a single unbatched sample gets a batch of one."""
    if len(ctx.graph.values[node.inputs[0]].shape) >= 2:
        return x, t
    axes = ctx.const([0], hint="axes")
    return ctx.add1("Unsqueeze", [x, axes]), ctx.add1("Unsqueeze", [t, axes])


def _unbatched(ctx, node, loss, output):
    """Drops the batch of one again from a per-sample ('none') result."""
    if node.attrs["reduction"] != "none" or len(ctx.graph.values[node.inputs[0]].shape) >= 2:
        return loss
    return ctx.add1("Squeeze", [loss, ctx.const([0], hint="axes")], output)


def _direct(ctx, node):
    """The output name for the last node when no unbatching follows it."""
    unbatched = node.attrs["reduction"] == "none" and len(ctx.graph.values[node.inputs[0]].shape) < 2
    return None if unbatched else ctx.output(node)


def _weight_input(ctx, node):
    return [ctx.param(node, "weight")] if "weight" in node.params else []


@lowers(NLL_LOSS)
def nll_loss(ctx, node):
    x, t = _batched(ctx, node, *ctx.inputs(node))
    loss = ctx.add1("NegativeLogLikelihoodLoss", [x, t] + _weight_input(ctx, node), _direct(ctx, node),
                    reduction=node.attrs["reduction"], ignore_index=node.attrs["ignore_index"])
    _unbatched(ctx, node, loss, ctx.output(node))


@lowers(CROSS_ENTROPY)
def cross_entropy(ctx, node):
    x, t = _batched(ctx, node, *ctx.inputs(node))
    if node.attrs["probabilities"]:
        loss = _soft_cross_entropy(ctx, node, x, t)
    elif node.attrs["label_smoothing"] > 0:
        loss = _smoothed_cross_entropy(ctx, node, x, t)
    else:
        loss = ctx.add1("SoftmaxCrossEntropyLoss", [x, t] + _weight_input(ctx, node), _direct(ctx, node),
                        reduction=node.attrs["reduction"], ignore_index=node.attrs["ignore_index"])
    _unbatched(ctx, node, loss, ctx.output(node))


def _class_weight(ctx, node, rank):
    """The class weights shaped to broadcast along dim 1 of a rank-``rank`` tensor."""
    weight = node.params["weight"]
    return ctx.param(node, "weight_bcast", weight.reshape((-1,) + (1,) * (rank - 2)))


def _weighted_class_sum(ctx, node, log_prob, factor, rank, output=None):
    """-sum over classes of log_prob * factor (* class weight): one value per sample."""
    product = log_prob if factor is None else ctx.add1("Mul", [log_prob, factor])
    if "weight" in node.params:
        product = ctx.add1("Mul", [product, _class_weight(ctx, node, rank)])
    return ctx.add1("Neg", [reduce(ctx, "ReduceSum", product, [1], False)], output)


def _soft_cross_entropy(ctx, node, x, t):
    """Probability targets (smoothed to t (1 - e) + e / C): -sum_c w_c t_c log_softmax(x)_c
    per sample; 'mean' divides by the number of samples, not by weights."""
    shape = ctx.graph.values[node.inputs[0]].shape
    rank, classes = max(len(shape), 2), shape[class_dim(shape)]
    smoothing = node.attrs["label_smoothing"]
    if smoothing > 0:
        kept = ctx.add1("Mul", [t, _scalar(ctx, node, 1.0 - smoothing, "keep")])
        t = ctx.add1("Add", [kept, _scalar(ctx, node, smoothing / classes, "spread")])
    log_prob = ctx.add1("LogSoftmax", [x], axis=1)
    reduction = node.attrs["reduction"]
    per_sample = _weighted_class_sum(ctx, node, log_prob, t, rank, _direct(ctx, node) if reduction == "none" else None)
    if reduction == "none":
        return per_sample
    return reduce(ctx, "ReduceMean" if reduction == "mean" else "ReduceSum", per_sample, [], False, _direct(ctx, node))


def _smoothed_cross_entropy(ctx, node, x, t):
    """(1 - e) * the plain loss + e / C * the uniform-target loss, as torch composes them:
    the uniform part is -sum_c w_c log p_c per sample, 0 for ignored targets, and its
    'mean' divides by the same denominator as the plain loss (the kept targets' weights)."""
    shape = ctx.graph.values[node.inputs[0]].shape
    rank, classes = max(len(shape), 2), shape[class_dim(shape)]
    smoothing, reduction = node.attrs["label_smoothing"], node.attrs["reduction"]
    plain, log_prob = ctx.add(
        "SoftmaxCrossEntropyLoss", [x, t] + _weight_input(ctx, node), 2,
        reduction=reduction, ignore_index=node.attrs["ignore_index"])
    ignored = ctx.add1("Equal", [t, ctx.const(node.attrs["ignore_index"], hint="ignore_index")])
    zero = _scalar(ctx, node, 0.0, "zero")
    uniform = ctx.add1("Where", [ignored, zero, _weighted_class_sum(ctx, node, log_prob, None, rank)])
    if reduction != "none":
        total = reduce(ctx, "ReduceSum", uniform, [], False)
        uniform = total if reduction == "sum" else ctx.add1("Div", [total, _kept_weight(ctx, node, t, ignored)])
    scaled_plain = ctx.add1("Mul", [plain, _scalar(ctx, node, 1.0 - smoothing, "keep")])
    scaled_uniform = ctx.add1("Mul", [uniform, _scalar(ctx, node, smoothing / classes, "spread")])
    return ctx.add1("Add", [scaled_plain, scaled_uniform], _direct(ctx, node))


def _kept_weight(ctx, node, t, ignored):
    """The sum of the class weights of the targets that are not ignored (their count
    without weights)."""
    kept = ctx.add1("Not", [ignored])
    dtype = onnx_dtype(_dtype(ctx, node))
    if "weight" not in node.params:
        return reduce(ctx, "ReduceSum", ctx.add1("Cast", [kept], to=dtype), [], False)
    safe = ctx.add1("Where", [ignored, ctx.const(0, hint="zero"), t])  # an ignored index may be out of range
    weights = ctx.add1("Gather", [ctx.param(node, "weight"), safe], axis=0)
    zero = _scalar(ctx, node, 0.0, "zero")
    return reduce(ctx, "ReduceSum", ctx.add1("Where", [kept, weights, zero]), [], False)
