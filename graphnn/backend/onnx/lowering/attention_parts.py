"""Pieces both attention lowerings build (``attention``'s composition and ``fused_attention``'s
kernel): torch's causal mask and grouped key/value heads repeated to the query's."""


def causal_keep(ctx, q, k, rank):
    """(L, S) bool: key j visible from query i when j <= i."""
    lengths = [ctx.add1("Gather", [ctx.add1("Shape", [t]), ctx.const(rank - 2, "int64", "axis")], axis=0)
               for t in (q, k)]
    zero, one = ctx.const(0, "int64", "zero_i"), ctx.const(1, "int64", "one_i")
    rows = ctx.add1("Unsqueeze", [ctx.add1("Range", [zero, lengths[0], one]), ctx.const([1], "int64", "axes")])
    cols = ctx.add1("Range", [zero, lengths[1], one])
    return ctx.add1("LessOrEqual", [cols, rows])


def repeat_heads(ctx, node, t, index):
    """(B, Hk, S, E) -> (B, Hq, S, E), each key/value head repeated for its query group."""
    heads = ctx.graph.values[node.inputs[0]].shape[-3]
    kv_heads = ctx.graph.values[node.inputs[1]].shape[-3]
    group = heads // kv_heads
    expanded = ctx.add1("Unsqueeze", [t, ctx.const([2], "int64", "axes")])  # (B, Hk, 1, S, E)
    shape = ctx.add1("Shape", [expanded])
    target = ctx.add1("Concat", [ctx.add1("Slice", [shape, ctx.const([0], "int64", "s0"), ctx.const([2], "int64", "s2")]),
                                 ctx.const([group], "int64", "group"),
                                 ctx.add1("Slice", [shape, ctx.const([3], "int64", "s3"), ctx.const([5], "int64", "s5")])],
                      axis=0)
    tiled = ctx.add1("Expand", [expanded, target])
    width = ctx.graph.values[node.inputs[index]].shape[-1]
    return ctx.add1("Reshape", [tiled, ctx.const([0, heads, -1, width], "int64", "heads")])
