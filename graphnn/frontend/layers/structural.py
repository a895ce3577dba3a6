"""Rules for calls that only route or name data: indexing Python containers and
shapes, ``x.shape`` / ``x.size()``, no-op layers (Identity, eval-mode Dropout)."""
import builtins
import math
import operator

import torch
import torch.nn as nn
import torch.nn.functional as F

from graphnn.frontend.rules import Ref, ShapeRef, function_rule, method_rule, module_rule
from graphnn.ops.shape import TRANSPOSE
from graphnn.ops.structural import DROPOUT, IDENTITY, SIZE
from graphnn.tensors import torch_dtype


@function_rule(builtins.getattr)
def getattr_(b, obj, name, *default):
    if isinstance(obj, tuple) and hasattr(obj, name):  # torch.return_types: x.max(1).values
        return getattr(obj, name)
    if not isinstance(obj, Ref):
        raise b.unsupported(f"reading attribute .{name} of a {type(obj).__name__}")
    if name == "shape":
        return ShapeRef(obj)
    if name in _STATIC_ATTRIBUTES:
        return _STATIC_ATTRIBUTES[name](b, obj)
    perm = list(range(b.rank(obj)))
    if name == "T":
        return b.emit(TRANSPOSE, [obj], perm=perm[::-1])
    if name in ("mT", "mH") and len(perm) >= 2:  # real tensors: the conjugate is a no-op
        perm[-2:] = perm[-1], perm[-2]
        return b.emit(TRANSPOSE, [obj], perm=perm)
    raise b.unsupported(f"reading attribute .{name} of a tensor")


# Tensor attributes known at export time: plain Python values in the traced program.
_STATIC_ATTRIBUTES = {
    "ndim": lambda b, x: b.rank(x),
    "dtype": lambda b, x: torch_dtype(b.dtype(x)),
    "device": lambda b, x: torch.device("cpu"),
    "is_cuda": lambda b, x: False,
}


@method_rule("dim", "ndimension")
def dim(b, x):
    return b.rank(x)


@method_rule("numel", "nelement")
def numel(b, x):
    if not all(isinstance(d, int) for d in b.shape(x)):
        raise b.unsupported("numel() of a tensor with a dynamic dim (export with --static)")
    return math.prod(b.shape(x))


@method_rule("size")
def size(b, x, dim=None):
    if dim is None:
        return ShapeRef(x)
    return b.emit(SIZE, [x], dim=dim)


@function_rule(operator.getitem)
def getitem(b, obj, index):
    if isinstance(obj, ShapeRef):
        return _index_shape(b, obj, index)
    if isinstance(obj, (list, tuple)):
        return obj[index]
    if isinstance(obj, Ref):
        from graphnn.frontend.layers.indexing import index_tensor  # tensor slicing family
        return index_tensor(b, obj, index)
    raise b.unsupported(f"indexing a {type(obj).__name__}")


def _index_shape(b, shape_ref, index):
    rank = b.rank(shape_ref.tensor)
    if isinstance(index, int):
        return b.emit(SIZE, [shape_ref.tensor], dim=index)
    if isinstance(index, slice):
        return [b.emit(SIZE, [shape_ref.tensor], dim=d) for d in range(rank)[index]]
    raise b.unsupported(f"indexing x.shape with {index!r}")


@module_rule(nn.Identity)
def identity_layer(b, module, x, *args, **kwargs):
    return b.emit(IDENTITY, [x])


@method_rule("contiguous", "clone", "detach")
def identity_method(b, x, *args, **kwargs):
    return b.emit(IDENTITY, [x])


@module_rule(nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
             nn.FeatureAlphaDropout)
def dropout_layer(b, module, x):
    return b.emit(DROPOUT, [x], p=module.p)


@function_rule(F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
               F.feature_alpha_dropout, torch.dropout)
def dropout_function(b, x, p=0.5, training=True, inplace=False):
    if training:
        raise b.unsupported("dropout with training=True in eval-mode export (pass training=self.training)")
    return b.emit(DROPOUT, [x], p=p)


@function_rule(torch.fx._symbolic_trace._assert_is_none)
def assert_is_none(b, value, *message):
    """fx's guard for a forward argument fixed to None (a default past the given inputs)."""
    return None


@function_rule(torch._assert)
def assert_(b, condition, message=""):
    """Shape checks in forward (torchvision's ViT): a traced condition is dropped (its
    comparison nodes become dead code); a Python False fails as it would in torch."""
    if condition is False:
        raise b.shape_error(f"fails the model's own check: {message}")
    return None


@function_rule("torchvision.ops.stochastic_depth.stochastic_depth")
def stochastic_depth(b, x, p, mode, training=True):
    """torchvision's StochasticDepth (EfficientNet, ConvNeXt): the identity in eval mode."""
    if training:
        raise b.unsupported("stochastic_depth with training=True")
    return b.emit(DROPOUT, [x], p=p)
