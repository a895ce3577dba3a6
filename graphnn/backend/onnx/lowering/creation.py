"""Lowerings of ``arange`` (ONNX Range over int64 scalars, cast to the dtype asked for)
and ``eye_like`` (ONNX EyeLike)."""
from graphnn.backend.onnx.context import onnx_dtype
from graphnn.backend.onnx.registry import lowers
from graphnn.ops.creation import ARANGE, EYE_LIKE

# What ONNX Range computes in; any other dtype is computed in one of these and cast.
_RANGE_DTYPES = ("float32", "float64", "int16", "int32", "int64")


@lowers(ARANGE)
def arange(ctx, node):
    """Range(start, limit, delta): constant bounds are scalars in the computing dtype,
    traced sizes (int64) are cast to it when it is not int64."""
    dtype = node.attrs["dtype"]
    compute = dtype if dtype in _RANGE_DTYPES else ("float32" if dtype.startswith(("float", "bfloat")) else "int64")
    dynamic = iter(ctx.inputs(node))
    bounds = []
    for key in ("start", "end", "step"):
        value = node.attrs[key]
        if value is None:
            name = next(dynamic)
            bounds.append(name if compute == "int64" else ctx.add1("Cast", [name], to=onnx_dtype(compute)))
        else:
            bounds.append(ctx.const(value, dtype=compute, hint=key))
    if compute == dtype:
        ctx.add1("Range", bounds, ctx.output(node))
        return
    values = ctx.add1("Range", bounds)
    ctx.add1("Cast", [values], ctx.output(node), to=onnx_dtype(dtype))


@lowers(EYE_LIKE)
def eye_like(ctx, node):
    ctx.add1("EyeLike", ctx.inputs(node), ctx.output(node))
