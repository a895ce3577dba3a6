"""An ONNX file as a View: shapes from ONNX shape inference, weights from initializers.

A file graphnn wrote names each node after its torch layer (``layer1.0.conv1``, further ops
``layer1.0.conv1/Add``) and says the layer class and source line in its doc_string
(``Conv2d at model.py:16``), so its nodes group under the torch layers again; files from
torch.onnx group by the module scopes it records (``namespace`` metadata, or scoped names). Symbolic input
dims count as 1 for multiply-accumulates.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import onnx
from onnx import helper, shape_inference

from graphnn.onnxfile.types import dtype_name
from graphnn.view.labels import key_attrs
from graphnn.view.macs import ONNX_RULES, count
from graphnn.view.model import Node, Param, Tensor, View

# ONNX op type -> the family graphnn's own ops use (colours), by op type.
FAMILIES = {
    **dict.fromkeys(["Conv", "ConvTranspose", "QLinearConv", "ConvInteger"], "conv"),
    **dict.fromkeys(["Gemm", "MatMul", "MatMulInteger", "QLinearMatMul", "Einsum"], "linear"),
    **dict.fromkeys(["BatchNormalization", "LayerNormalization", "GroupNormalization",
                     "InstanceNormalization", "LpNormalization", "LRN", "RMSNormalization"], "norm"),
    **dict.fromkeys(["Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Gelu",
                     "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish",
                     "ThresholdedRelu", "Clip"], "activation"),
    **dict.fromkeys(["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool"], "pool"),
    **dict.fromkeys(["LSTM", "GRU", "RNN"], "recurrent"),
    **dict.fromkeys(["Attention"], "attention"),
    **dict.fromkeys(["Gather", "GatherElements", "GatherND"], "indexing"),
    **dict.fromkeys(["Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split",
                     "Slice", "Expand", "Shape", "Tile"], "shape"),
    **dict.fromkeys(["Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Where",
                     "Equal", "Less", "Greater", "And", "Or", "Not", "Cast"], "elementwise"),
    **dict.fromkeys(["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ArgMax", "ArgMin"], "reduce"),
    **dict.fromkeys(["Constant", "ConstantOfShape"], "creation"),
}
# Initializers of these types are weights; int64 / bool ones are shapes, indices and masks.
WEIGHT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                onnx.TensorProto.DOUBLE, onnx.TensorProto.INT8, onnx.TensorProto.UINT8}


def view_of_onnx(model: onnx.ModelProto, name: str = "model") -> View:
    """The View of an ONNX model (its main graph; subgraphs of If/Loop stay inside their node)."""
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # an op shape inference does not know: show the shapes the file declares
        inferred = model
    graph = inferred.graph
    initializers = {i.name: i for i in graph.initializer}
    tensors = {t.name: _tensor(t) for t in [*graph.input, *graph.value_info, *graph.output]}
    tensors.update({n: Tensor(n, tuple(i.dims), dtype_name(i.data_type)) for n, i in initializers.items()})
    inputs = [i.name for i in graph.input if i.name not in initializers]
    symbols = {d: 1 for n in inputs for d in tensors[n].shape or () if isinstance(d, str)}
    view = View(graph.name or name, "onnx", inputs, [o.name for o in graph.output], tensors, [], symbols)
    ids: set[str] = set()
    for index, proto in enumerate(graph.node):
        for value in [*proto.input, *proto.output]:
            view.tensors.setdefault(value, Tensor(value, None, None))
        view.nodes.append(_node(view, proto, index, initializers, model.producer_name, ids))
    view.modules.update({n.module: n.module_class for n in view.nodes if n.module and n.module_class})
    return view


def _tensor(info: onnx.ValueInfoProto) -> Tensor:
    kind = info.type.tensor_type
    if not kind.HasField("shape"):
        return Tensor(info.name, None, dtype_name(kind.elem_type))
    shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in kind.shape.dim)
    return Tensor(info.name, shape, dtype_name(kind.elem_type))


def _node(view: View, proto: onnx.NodeProto, index: int, initializers: dict, producer: str,
          ids: set) -> Node:
    node_id = proto.name if proto.name and proto.name not in ids else f"{proto.op_type}_{index}"
    ids.add(node_id)
    module, module_class, source, ancestors = _origin(proto, producer)
    view.modules.update(ancestors)
    params = [_param(initializers[i]) for i in dict.fromkeys(proto.input)
              if i in initializers and initializers[i].data_type in WEIGHT_TYPES]
    attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute
             if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS, onnx.AttributeProto.FLOAT,
                           onnx.AttributeProto.STRING)}
    attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
    ins = [view.sizes(view.tensors[i].shape) if i else () for i in proto.input]
    outs = [view.sizes(view.tensors[o].shape) for o in proto.output if o]
    return Node(node_id, proto.name or node_id, proto.op_type, proto.op_type,
                FAMILIES.get(proto.op_type, "other"), [i for i in proto.input if i and i not in initializers],
                [o for o in proto.output if o], module, module_class, source,
                key_attrs(proto.op_type, attrs, {}), params, count(ONNX_RULES, proto.op_type, ins, outs, attrs))


Origin = tuple  # (torch module path, its class, source line, {ancestor path: class})


def _from_graphnn(proto: onnx.NodeProto) -> Optional[Origin]:
    """graphnn names a node after its layer (``layer1.0.conv1/Add``) and says ``Conv2d at m.py:9``."""
    kind, _, source = proto.doc_string.partition(" at ")
    return (proto.name.split("/")[0], kind or None, source or None, {}) if proto.name else None


def _from_torch_dynamo(proto: onnx.NodeProto) -> Optional[Origin]:
    """torch.onnx (dynamo) records ``namespace``: ``: m.Net/layer1: torch...Sequential/layer1.0:
    m.BasicBlock/add: aten.add.Tensor``; the scopes before the ATen op are the modules."""
    namespace = next((p.value for p in proto.metadata_props if p.key == "namespace"), None)
    if not namespace:
        return None
    scopes = [part.partition(": ") for part in namespace.split("/")[1:]]  # the first is the model itself
    modules = [(path, cls.rsplit(".", 1)[-1]) for path, _, cls in scopes if not cls.startswith("aten.")]
    if not modules:
        return None
    return modules[-1][0], modules[-1][1], None, dict(modules)


def _from_torch_scopes(proto: onnx.NodeProto) -> Optional[Origin]:
    """torch.onnx (TorchScript) names nodes ``/layer1/layer1.0/downsample/downsample.0/Conv``: a
    scope is a child's name, written after its parent's own name when the parent is a
    container (``layer1.0``), so the path is rebuilt scope by scope."""
    if not proto.name.startswith("/") or proto.name.count("/") < 2:
        return None
    path, previous = "", ""
    for scope in proto.name.split("/")[1:-1]:
        if previous and scope.startswith(previous + "."):
            path += scope[len(previous):]
        else:
            path = f"{path}.{scope}" if path else scope
        previous = scope
    return path, None, None, {}


# Who wrote the file decides how its nodes say which torch layer they came from.
_ORIGINS = {"graphnn": [_from_graphnn], "pytorch": [_from_torch_dynamo, _from_torch_scopes]}


def _origin(proto: onnx.NodeProto, producer: str) -> Origin:
    for reader in _ORIGINS.get(producer, []):
        found = reader(proto)
        if found is not None:
            return found
    return None, None, None, {}


def _param(initializer: onnx.TensorProto) -> Param:
    shape = tuple(initializer.dims)
    itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(initializer.data_type)).itemsize
    numel = int(np.prod(shape)) if shape else 1
    return Param(initializer.name, shape, numel * itemsize, None, initializer.name)
