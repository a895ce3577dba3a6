"""The lowering registry: ``@lowers(CONV2D)`` functions that emit ONNX nodes.

Lowerings register against the op's OpDef (graphnn/ops), never its name spelled again.
As in tf2onnx's handlers, an op may have one lowering per minimum opset
(``@lowers(GELU, since=20)`` next to the decomposition for older opsets); the newest
one at or below the target opset wins. Registering the same (op, since) twice is an
error, and a missing op says so by name.
"""
from __future__ import annotations

from typing import Callable

from graphnn.errors import UnsupportedError
from graphnn.ops.opdef import OpDef, opdef

Lowering = Callable[..., None]
_LOWERINGS: dict[OpDef, dict[int, Lowering]] = {}


def lowers(*ops: OpDef, since: int = 1):
    """Register ``fn(ctx, node)`` as the lowering of ``ops`` from opset ``since`` on."""
    for op in ops:
        if not isinstance(op, OpDef):
            raise TypeError(f"lowers() takes OpDefs (graphnn.ops), not {op!r}")

    def register(fn: Lowering) -> Lowering:
        for op in ops:
            versions = _LOWERINGS.setdefault(op, {})
            if since in versions:
                raise RuntimeError(f"lowering for {op.name!r} since opset {since} registered twice")
            versions[since] = fn
        return fn

    return register


def unregister(op: OpDef, since: int = 1) -> None:
    """Drop one lowering (a test's toy op), so later exports never see it."""
    versions = _LOWERINGS.get(op, {})
    versions.pop(since, None)
    if not versions:
        _LOWERINGS.pop(op, None)


def lowering_for(op: str, opset: int) -> Lowering:
    """The lowering of the node op ``op`` at ``opset``."""
    versions = _LOWERINGS.get(opdef(op))
    if not versions:
        raise UnsupportedError(f"op {op!r} has no ONNX lowering in graphnn yet")
    usable = [v for v in versions if v <= opset]
    if not usable:
        raise UnsupportedError(f"op {op!r} needs ONNX opset {min(versions)} or newer (asked for {opset})")
    return versions[max(usable)]


def lowered(op: OpDef) -> bool:
    return bool(_LOWERINGS.get(op))
