"""Tracing through a Python function that torch.fx kept whole (``torch.fx.wrap``), under fx.

Model authors wrap a helper when its body reads shapes as Python values, which fx cannot do
(torchvision's Swin: ``B, H, W, C = x.shape``, ``if window >= H``, a mask built in place
on ``x.new_zeros((H, W))``). Falling back to torch.export for the whole model costs seconds
(its symbolic shapes); here only the helper's body is traced again by fx, and every node is
replayed into the IR the moment fx makes it, so each traced tensor's shape is known while its
Python runs: static dims read as ints, a dynamic dim as a traced ``size`` (so the batch stays
symbolic), dtypes as torch dtypes, and a ``new_zeros`` of static size as a real tensor that
the body then fills with ordinary Python. Anything the body does beyond that (iterating a
traced tensor, writing into one in place) raises TraceError, and ``auto`` goes on with
torch.export as before.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx as fx

from graphnn.errors import TraceError
from graphnn.frontend.replay import Replay
from graphnn.frontend.rules import Ref
from graphnn.frontend.source import SOURCE_KEY
from graphnn.tensors import torch_dtype

_STATIC_FACTORIES = {"new_zeros": torch.zeros, "new_ones": torch.ones}


class _ShapedProxy(fx.Proxy):
    """An fx Proxy that answers shape and dtype questions from the IR instead of recording them."""

    @property
    def shape(self) -> tuple:
        return self.tracer.shape_of(self)

    def size(self, dim: Any = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> torch.dtype:
        return torch_dtype(self.tracer.replay.graph.values[self.tracer.ref_of(self).name].dtype)

    def __len__(self) -> int:
        first = self.shape[0]
        if not isinstance(first, int):
            raise TraceError("len() of a tensor with a dynamic first dim")
        return first

    def new_zeros(self, *size: Any, **kwargs: Any) -> Any:
        return self._new_static("new_zeros", size, kwargs)

    def new_ones(self, *size: Any, **kwargs: Any) -> Any:
        return self._new_static("new_ones", size, kwargs)

    def _new_static(self, method: str, size: tuple, kwargs: dict) -> Any:
        """A static-size factory reads nothing but the dtype: a real tensor, built now."""
        dims = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        if all(isinstance(d, int) for d in dims) and set(kwargs) <= {"dtype", "device"}:
            return _STATIC_FACTORIES[method](dims, dtype=kwargs.get("dtype") or self.dtype)
        return self.tracer.create_proxy("call_method", method, (self, *size), kwargs)


class _ReplayingTracer(fx.Tracer):
    """fx's tracer whose nodes are replayed through the rules as soon as they are made, named
    and attributed like the wrapped call they stand for. ``replay`` is the fx frontend's
    replay of this call's body: it shares the outer replay's IR and env, holds the tensors the
    body builds in Python (``constants``) and refuses in-place writes."""

    def __init__(self, replay: Replay, call: fx.Node):
        super().__init__()
        self.replay = replay
        self.call = call
        self.graph = fx.Graph()
        self.root = replay.model

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _ShapedProxy(node, self)

    def input(self, ref: Ref) -> _ShapedProxy:
        node = self.graph.placeholder(f"{self.call.name}_input{len(self.replay.env)}")
        self.replay.env[node] = ref
        return _ShapedProxy(node, self)

    def create_arg(self, a: Any) -> Any:
        if isinstance(a, torch.Tensor):  # a tensor the body built in Python (a mask): a constant
            name = f"{self.call.name}_constant{len(self.replay.constants)}"
            self.replay.constants[name] = a
            return self.create_node("get_attr", name, (), {})
        return super().create_arg(a)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None) -> fx.Node:
        node = super().create_node(kind, target, args, kwargs, f"{self.call.name}_{name or kind}", type_expr)
        node.meta.update({k: v for k, v in self.call.meta.items() if k in ("nn_module_stack", SOURCE_KEY)})
        self.replay.env[node] = self.replay.replayed(node)
        return node

    def ref_of(self, proxy: fx.Proxy) -> Ref:
        value = self.replay.env[proxy.node]
        if not isinstance(value, Ref):
            raise TraceError(f"{proxy.node.name} is not a tensor")
        return value

    def shape_of(self, proxy: fx.Proxy) -> tuple:
        """Static dims as ints; a dynamic one as a traced ``size`` call (an IR size node)."""
        shape = self.replay.graph.values[self.ref_of(proxy).name].shape
        return tuple(d if isinstance(d, int) else self.create_proxy("call_method", "size", (proxy, i), {})
                     for i, d in enumerate(shape))


def trace_through(replay: Replay, call: fx.Node, args: list, kwargs: dict) -> Any:
    """Run the wrapped function of fx node ``call`` on proxies of its IR arguments, each node
    replayed by ``replay`` (the fx frontend's replay of this call); returns its result in IR
    terms (Refs where it returns tensors)."""
    tracer = _ReplayingTracer(replay, call)
    wrap = lambda v: tracer.input(v) if isinstance(v, Ref) else v  # noqa: E731
    result = call.target(*fx.node.map_aggregate(args, wrap), **fx.node.map_aggregate(kwargs, wrap))
    return fx.node.map_aggregate(result, lambda v: _in_ir(tracer, v))


def _in_ir(tracer: _ReplayingTracer, value: Any) -> Any:
    if isinstance(value, torch.Tensor):  # built in Python from static facts: a constant, as inside
        value = tracer.proxy(tracer.create_arg(value))
    return tracer.replay.env[value.node] if isinstance(value, fx.Proxy) else value
