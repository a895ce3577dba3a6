"""The lowering registry: ``@lowers("conv2d")`` functions that emit ONNX nodes.

As in tf2onnx's handlers, an op may have one lowering per minimum opset
(``@lowers("gelu", since=20)`` next to the decomposition for older opsets); the newest
one at or below the target opset wins. Registering the same (op, since) twice is an
error, and a missing op says so by name.
"""
from __future__ import annotations

from typing import Callable

from graphnn.errors import UnsupportedError

Lowering = Callable[..., None]
_LOWERINGS: dict[str, dict[int, Lowering]] = {}


def lowers(*ops: str, since: int = 1):
    """Register ``fn(ctx, node)`` as the lowering of ``ops`` from opset ``since`` on."""

    def register(fn: Lowering) -> Lowering:
        for op in ops:
            versions = _LOWERINGS.setdefault(op, {})
            if since in versions:
                raise RuntimeError(f"lowering for {op!r} since opset {since} registered twice")
            versions[since] = fn
        return fn

    return register


def lowering_for(op: str, opset: int) -> Lowering:
    versions = _LOWERINGS.get(op)
    if not versions:
        raise UnsupportedError(f"op {op!r} has no ONNX lowering in graphnn yet")
    usable = [v for v in versions if v <= opset]
    if not usable:
        raise UnsupportedError(f"op {op!r} needs ONNX opset {min(versions)} or newer (asked for {opset})")
    return versions[max(usable)]


def lowered_ops() -> list[str]:
    return sorted(_LOWERINGS)
