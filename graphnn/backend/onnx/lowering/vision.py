"""Lowerings of ``resize`` (ONNX Resize), ``pixel_shuffle`` (DepthToSpace, CRD order as
torch), ``pixel_unshuffle`` and ``channel_shuffle`` (Reshape/Transpose/Reshape:
SpaceToDepth orders its output channels block-first, torch channel-first).

Resize's coordinate modes reproduce torch: nearest is 'asymmetric' + floor,
nearest-exact 'half_pixel' + round_prefer_ceil, (bi/tri)linear and bicubic
'half_pixel' (torch's, also for a size of 1) or 'align_corners', bicubic with a=-0.75.
Antialiased (bi)linear and bicubic (opset 18+) are Resize's antialias=1 with exclude_outside=1
(torch renormalizes the weights inside the image) and, for cubic, a=-0.5 (PIL's, which torch
uses for antialiasing) — parity-checked against torch for down- and up-scaling.
"""
from graphnn.backend.onnx.registry import lowers
from graphnn.errors import UnsupportedError
from graphnn.ops.vision import CHANNEL_SHUFFLE, PIXEL_SHUFFLE, PIXEL_UNSHUFFLE, RESIZE

_NEAREST = {"nearest": ("asymmetric", "floor"), "nearest-exact": ("half_pixel", "round_prefer_ceil")}


def _coordinate_attrs(node) -> dict:
    mode = node.attrs["mode"]
    if node.attrs.get("antialias"):
        return dict(_coordinate_attrs_plain(node), antialias=1, exclude_outside=1,
                    cubic_coeff_a=-0.5 if mode == "cubic" else None)
    return _coordinate_attrs_plain(node)


def _coordinate_attrs_plain(node) -> dict:
    mode = node.attrs["mode"]
    if mode in _NEAREST:
        transform, rounding = _NEAREST[mode]
        return dict(mode="nearest", coordinate_transformation_mode=transform, nearest_mode=rounding)
    transform = "align_corners" if node.attrs["align_corners"] else "half_pixel"
    return dict(mode=mode, coordinate_transformation_mode=transform,
                cubic_coeff_a=-0.75 if mode == "cubic" else None)


def _resize(ctx, node, scales_and_sizes: list, **attrs):
    ctx.add1("Resize", [ctx.input(node), "", *scales_and_sizes], ctx.output(node),
             **_coordinate_attrs(node), **attrs)


def _scales(ctx, node) -> list:
    return [ctx.const([1.0, 1.0, *node.attrs["scales"]], dtype="float32", hint="scales")]


@lowers(RESIZE)
def resize(ctx, node):
    """Before opset 18 sizes cover every dim: N and C are read from the input at run time."""
    if node.attrs.get("antialias"):
        raise UnsupportedError(f"{node.where}: interpolate with antialias=True needs ONNX opset 18 "
                               f"or later (Resize's antialias): pass --opset 18")
    if node.attrs["scales"] is not None:
        return _resize(ctx, node, _scales(ctx, node))
    shape = ctx.add1("Shape", [ctx.input(node)])
    leading = ctx.add1("Slice", [shape, ctx.const([0], hint="starts"), ctx.const([2], hint="ends")])
    sizes = ctx.add1("Concat", [leading, ctx.const(node.attrs["sizes"], hint="sizes")], axis=0)
    _resize(ctx, node, ["", sizes])


@lowers(RESIZE, since=18)
def resize_spatial_axes(ctx, node):
    """From opset 18 sizes can name only the spatial axes."""
    if node.attrs["scales"] is not None:
        return _resize(ctx, node, _scales(ctx, node))
    sizes = node.attrs["sizes"]
    _resize(ctx, node, ["", ctx.const(sizes, hint="sizes")], axes=list(range(2, 2 + len(sizes))))


@lowers(PIXEL_SHUFFLE)
def pixel_shuffle(ctx, node):
    ctx.add1("DepthToSpace", ctx.inputs(node), ctx.output(node), blocksize=node.attrs["factor"],
             mode="CRD")


def _static(node, dims):
    if not all(isinstance(d, int) for d in dims):
        raise UnsupportedError(f"{node.where}: {node.kind} on dynamic channel or spatial sizes "
                               f"is not supported by graphnn yet")
    return dims


@lowers(PIXEL_UNSHUFFLE)
def pixel_unshuffle(ctx, node):
    """(N, C, H, W) -> (N, C, H/r, r, W/r, r) -> (N, C, r, r, H/r, W/r) -> (N, C*r*r, H/r, W/r)."""
    r = node.attrs["factor"]
    c, h, w = _static(node, ctx.graph.values[node.inputs[0]].shape[1:])
    split = ctx.add1("Reshape", [ctx.input(node), ctx.const([0, c, h // r, r, w // r, r], hint="shape")])
    moved = ctx.add1("Transpose", [split], perm=[0, 1, 3, 5, 2, 4])
    ctx.add1("Reshape", [moved, ctx.const([0, c * r * r, h // r, w // r], hint="shape")], ctx.output(node))


@lowers(CHANNEL_SHUFFLE)
def channel_shuffle(ctx, node):
    """(N, C, *) -> (N, g, C/g, rest) -> (N, C/g, g, rest) -> back to the input's shape."""
    groups = node.attrs["groups"]
    (c,) = _static(node, ctx.graph.values[node.inputs[0]].shape[1:2])
    split = ctx.add1("Reshape", [ctx.input(node), ctx.const([0, groups, c // groups, -1], hint="shape")])
    swapped = ctx.add1("Transpose", [split], perm=[0, 2, 1, 3])
    shape = ctx.add1("Shape", [ctx.input(node)])
    ctx.add1("Reshape", [swapped, shape], ctx.output(node))
