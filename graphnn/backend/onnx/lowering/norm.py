"""Lowerings of ``batch_norm`` (BatchNormalization) and ``scale_shift`` (Mul + Add)."""
import torch

from graphnn.backend.onnx.registry import lowers


@lowers("batch_norm")
def batch_norm(ctx, node):
    p = node.params
    channels = p["running_mean"].shape[0]
    scale = p["weight"] if "weight" in p else torch.ones(channels, dtype=p["running_mean"].dtype)
    shift = p["bias"] if "bias" in p else torch.zeros(channels, dtype=p["running_mean"].dtype)
    inputs = [
        ctx.input(node),
        ctx.param(node, "weight", scale), ctx.param(node, "bias", shift),
        ctx.param(node, "running_mean"), ctx.param(node, "running_var"),
    ]
    ctx.add1("BatchNormalization", inputs, ctx.output(node), epsilon=float(node.attrs["eps"]))


@lowers("scale_shift")
def scale_shift(ctx, node):
    """Per-channel affine on dim 1: constants shaped (C, 1, ..., 1) broadcast over (N, C, ...)."""
    rank = len(ctx.graph.values[node.inputs[0]].shape)
    trailing = (1,) * (rank - 2)
    scale = node.params["scale"].reshape(-1, *trailing)
    shift = node.params["shift"].reshape(-1, *trailing)
    scaled = ctx.add1("Mul", [ctx.input(node), ctx.param(node, "scale", scale)])
    ctx.add1("Add", [scaled, ctx.param(node, "shift", shift)], ctx.output(node))
