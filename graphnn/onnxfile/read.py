"""An ONNX file from anywhere, checked before onnxruntime opens it.

``graphnn run``, ``graphnn graph model.onnx`` and ``graphnn check --onnx`` may be handed a broken or hostile
file. onnxruntime refuses most of them, but with a traceback, and only after following
external-data paths. Here each problem is one line (a ``GraphnnError``, exit 2), found
from the protobuf alone, before a byte outside the model's folder is read:

- an IR version or opset newer than this onnxruntime loads;
- external data whose path leaves the model's folder (``../../etc/passwd``, absolute
  paths, symlinks out), is missing, or is shorter than the tensor it declares;
- an initializer declaring more elements than its bytes hold;
- a graph whose nodes read a tensor made later (a cycle) or never made.
"""
from __future__ import annotations

import math
import os
from typing import Optional

import onnx
from onnx import TensorProto

from graphnn.backend.onnx.opsets import max_opset
from graphnn.errors import GraphnnError, ModelLoadError
from graphnn.onnxfile.probe import max_ir_version


class OnnxFileError(GraphnnError):
    """An ONNX file graphnn will not hand to onnxruntime: broken, hostile or too new."""


_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")


def load_checked(path: str) -> onnx.ModelProto:
    """The model at ``path`` (external data not loaded), after every check below."""
    if not os.path.isfile(path):
        raise OnnxFileError(f"ONNX file {path!r} does not exist")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # a truncated or non-ONNX file
        raise OnnxFileError(f"{path} is not a readable ONNX model ({type(exc).__name__})") from None
    check_model_file(model, path)
    return model


def load_with_data(path: str) -> onnx.ModelProto:
    """``load_checked``, then the external data read in: the whole model, for a session."""
    model = load_checked(path)
    try:
        onnx.load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
        return model
    except Exception as exc:  # external data that cannot be read
        reason = " ".join(str(exc).split())[:200]
        raise ModelLoadError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {reason})") from None


def graph_inputs(model: onnx.ModelProto) -> list:
    """The inputs a caller feeds (older files also list their initializers as inputs)."""
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def symbolic_dims(model: onnx.ModelProto) -> list[tuple]:
    """Per fed input, ``((dim, symbol), ...)`` for its ``dim_param`` dims: which dims a file
    from elsewhere lets vary."""
    return [tuple((i, d.dim_param) for i, d in enumerate(value.type.tensor_type.shape.dim) if d.HasField("dim_param"))
            for value in graph_inputs(model)]


def check_model_file(model: onnx.ModelProto, path: str) -> None:
    check_versions(model, path)
    folder = os.path.dirname(os.path.abspath(path))
    for tensor in _initializers(model):
        if tensor.data_location == TensorProto.EXTERNAL:
            check_external(tensor, folder, path)
        else:
            check_inline(tensor, path)
    check_order(model, path)


def check_versions(model: onnx.ModelProto, path: str) -> None:

    if model.ir_version > max_ir_version():
        raise OnnxFileError(f"{path} has ONNX IR version {model.ir_version}; this onnxruntime reads up to "
                            f"{max_ir_version()}: upgrade onnxruntime or re-export the model")
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx") and entry.version > max_opset():
            raise OnnxFileError(f"{path} uses ONNX opset {entry.version}; this onnxruntime runs up to opset "
                                f"{max_opset()}: upgrade onnxruntime or re-export with --opset {max_opset()}")


def _initializers(model: onnx.ModelProto):
    yield from model.graph.initializer
    yield from (s.values for s in model.graph.sparse_initializer)


def declared_bytes(tensor: TensorProto) -> Optional[int]:
    """Bytes the tensor's dims and type call for; None for types without a fixed size."""
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except Exception:  # strings, unknown codes
        return None
    if tensor.data_type == TensorProto.STRING:
        return None
    return math.prod(tensor.dims) * itemsize


def check_external(tensor: TensorProto, folder: str, path: str) -> None:
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    target = os.path.realpath(os.path.join(folder, location))
    if not location or os.path.isabs(location) or not target.startswith(os.path.realpath(folder) + os.sep):
        raise OnnxFileError(f"{path}: initializer {tensor.name} keeps its data at {location!r}, outside the "
                            f"model's folder; graphnn reads external data only from beside the model")
    if not os.path.isfile(target):
        raise OnnxFileError(f"{path}: initializer {tensor.name}'s external data {location!r} is missing")
    offset, length = int(info.get("offset", 0) or 0), info.get("length")
    available = os.path.getsize(target) - offset
    needed = declared_bytes(tensor)
    wanted = max(int(length) if length else 0, needed or 0)
    if offset < 0 or available < wanted:
        raise OnnxFileError(f"{path}: initializer {tensor.name} needs {wanted:,} bytes of {location!r} from "
                            f"offset {offset:,}, the file holds {max(available, 0):,}: it is truncated or not this "
                            f"model's data")


def check_inline(tensor: TensorProto, path: str) -> None:
    needed = declared_bytes(tensor)
    elements = math.prod(tensor.dims)
    if tensor.HasField("raw_data") or needed is None:
        held = len(tensor.raw_data)
        if tensor.HasField("raw_data") and needed is not None and held != needed:
            raise OnnxFileError(f"{path}: initializer {tensor.name} declares shape "
                                f"{'x'.join(map(str, tensor.dims)) or 'scalar'} ({needed:,} bytes) but holds "
                                f"{held:,} bytes")
        return
    count = max(len(getattr(tensor, field)) for field in _TYPED_FIELDS)
    if count != elements:
        raise OnnxFileError(f"{path}: initializer {tensor.name} declares {elements:,} elements but holds {count:,}")


def check_order(model: onnx.ModelProto, path: str) -> None:
    """Nodes are stored in topological order (ONNX requires it): a node reading a tensor
    produced by a later node is a cycle or a broken file, one reading nothing known is broken."""
    graph = model.graph
    produced_at = {out: i for i, node in enumerate(graph.node) for out in node.output}
    known = {"", *(i.name for i in graph.input), *(t.name for t in graph.initializer),
             *(s.values.name for s in graph.sparse_initializer)}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name in known:
                continue
            if name in produced_at and produced_at[name] >= i:
                raise OnnxFileError(f"{path}: node {node.name or node.op_type} reads {name!r}, which a later node "
                                    f"makes: the graph has a cycle or is not in topological order")
            if name not in produced_at:
                raise OnnxFileError(f"{path}: node {node.name or node.op_type} reads {name!r}, which nothing makes")
        known.update(node.output)
