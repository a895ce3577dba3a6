"""Lowering of ``index_tensors``: ONNX GatherND over index tuples.

The index tensors are broadcast to one shape (Expand to the Shape of their sum), stacked
on a new last axis into tuples, and GatherND picks x's slices at them (negative indices
count from the end, as in torch). Indexed dims after others are first moved to the front
by a Transpose and the gathered dims moved back in place afterwards.

``index_put`` is ONNX ScatterND at the same tuples, the values expanded to the shape of the
part they replace (the tuples' shape, then x's dims after the indexed ones).
"""
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.advanced_indexing import INDEX_PUT, INDEX_TENSORS
from graphnn.ops.indexing import INT64_MAX


@lowers(INDEX_TENSORS)
def index_tensors(ctx, node):
    x, *indices = ctx.inputs(node)
    dim, count = node.attrs["dim"], len(indices)
    rank = len(ctx.graph.values[node.inputs[0]].shape)
    out_rank = len(ctx.graph.values[node.outputs[0]].shape)
    tuples = _index_tuples(ctx, indices)
    if dim == 0:
        ctx.add1("GatherND", [x, tuples], ctx.output(node))
        return
    front = list(range(dim, dim + count)) + list(range(dim)) + list(range(dim + count, rank))
    moved = ctx.add1("Transpose", [x], perm=front)
    gathered = ctx.add1("GatherND", [moved, tuples])
    index_rank = out_rank - (rank - count)
    back = list(range(index_rank, index_rank + dim)) + list(range(index_rank)) + list(range(index_rank + dim, out_rank))
    ctx.add1("Transpose", [gathered], ctx.output(node), perm=back)


def _index_tuples(ctx, indices):
    """(broadcast shape..., len(indices)) int64 tuples from the index tensors."""
    axis = ctx.const([-1], hint="axes")
    if len(indices) == 1:
        return ctx.add1("Unsqueeze", [indices[0], axis])
    total = indices[0]
    for index in indices[1:]:
        total = ctx.add1("Add", [total, index])
    shape = ctx.add1("Shape", [total])
    columns = [ctx.add1("Unsqueeze", [ctx.add1("Expand", [index, shape]), axis]) for index in indices]
    return ctx.add1("Concat", columns, axis=-1)


@lowers(INDEX_PUT)
def index_put(ctx, node):
    x, values, *indices = ctx.inputs(node)
    tuples = _index_tuples(ctx, indices)
    where = ctx.add1("Slice", [ctx.add1("Shape", [tuples]), ctx.const([0], hint="starts"), ctx.const([-1], hint="ends")])
    rest = ctx.add1("Slice", [ctx.add1("Shape", [x]), ctx.const([len(indices)], hint="starts"),
                              ctx.const([INT64_MAX], hint="ends")])
    updates = ctx.add1("Expand", [values, ctx.add1("Concat", [where, rest], axis=0)])
    ctx.add1("ScatterND", [x, tuples, updates], ctx.output(node))
