"""Lowerings of ``reshape`` and ``flatten``.

A reshape whose target is all constants uses one shape initializer; one with dims
read at run time (``x.view(x.size(0), -1)`` when the batch is dynamic and the pass
that turns that into ONNX's copy-dim 0 did not run) concatenates the pieces.
"""
from graphnn.backend.onnx.registry import lowers
from graphnn.errors import UnsupportedError


def _static_entry(entry):
    if entry == "same":
        return 0
    if entry == 0:
        raise UnsupportedError("reshape to a zero-size dim is not supported")
    return entry


@lowers("reshape")
def reshape(ctx, node):
    x, *dynamic = ctx.inputs(node)
    entries = node.attrs["shape"]
    if all(e is not None for e in entries):
        target = ctx.const([_static_entry(e) for e in entries], hint="shape")
    else:
        pieces, dynamic = [], iter(dynamic)
        for e in entries:
            if e is None:
                pieces.append(ctx.add1("Unsqueeze", [next(dynamic), ctx.const([0], hint="axes")]))
            else:
                pieces.append(ctx.const([_static_entry(e)], hint="dim"))
        target = ctx.add1("Concat", pieces, axis=0)
    ctx.add1("Reshape", [x, target], ctx.output(node))


@lowers("flatten")
def flatten(ctx, node):
    """Flatten(axis=1) when torch flattens dims 1.. (the common case), else a Reshape."""
    in_shape = ctx.graph.values[node.inputs[0]].shape
    out_shape = ctx.graph.values[node.outputs[0]].shape
    rank = len(in_shape)
    start = node.attrs["start_dim"] % max(rank, 1)
    end = node.attrs["end_dim"] % max(rank, 1)
    if rank >= 2 and start == 1 and end == rank - 1:
        ctx.add1("Flatten", ctx.inputs(node), ctx.output(node), axis=1)
        return
    target = [0] * start + [-1]
    for d in out_shape[start + 1:]:
        if not isinstance(d, int):
            raise UnsupportedError(f"{node.where}: flatten before a dynamic dim is not supported")
        target.append(d)
    ctx.add1("Reshape", [ctx.input(node), ctx.const(target, hint="shape")], ctx.output(node))
