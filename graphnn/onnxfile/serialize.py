"""ONNX models as bytes and files: the weights streamed from the torch tensors, and external
data for models over 2 GB.

A protobuf message cannot be serialized past 2 GB, so a larger model keeps its weights in
``<name>.onnx.data`` beside ``<name>.onnx`` (ONNX external data), and reaches onnxruntime
as a path, not bytes.

The weights are the bulk of a model and are never copied whole. ``graphnn.export`` lowers
to a ModelProto whose large initializers hold only their name, type and dims; their bytes
stay in the torch tensors, as ``weights`` (name -> a numpy view of the tensor's memory),
and go from there straight into the file. The checker sees the model with its large
initializers declared as typed graph inputs instead (the same graph, types and shapes,
every node checked; the bytes were written from the tensors by graphnn itself), a file is
written one initializer at a time (protobuf fields may be concatenated), and a model with
large weights reaches onnxruntime as a file rather than as one more serialized copy in
memory. Every function here takes a complete ModelProto, or one with ``weights`` beside it.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Iterator, Mapping, Optional, Union

import numpy as np
import onnx
from onnx import helper

from graphnn.onnxfile.atomic import write_staged

LARGE_BYTES = 2_000_000_000  # initializer bytes past which a model is written with external data
CHECKED_BYTES = 1024  # initializers up to this size are checked with their data (shape constants)
RUN_FROM_FILE_BYTES = 64 * 2**20  # weights past which onnxruntime reads a file, not bytes
_PACKED_TYPES = {getattr(onnx.TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2")
                 if hasattr(onnx.TensorProto, n)}  # sub-byte elements: their raw_data is measured
_GRAPH_FIELD, _INITIALIZER_FIELD, _RAW_DATA_FIELD = 7, 5, 9  # ModelProto.graph, GraphProto.initializer, TensorProto.raw_data
BLOCK_BYTES = 16 * 2**20  # a strided weight (a transposed view) is written in C order this much at a time
EXTERNAL_ALIGNMENT = 4096  # each tensor in a .data file starts at a multiple of this (mmap-friendly)
Weights = Mapping[str, np.ndarray]  # initializer name -> its bytes, kept out of the ModelProto
NO_WEIGHTS: Weights = {}


def weight_bytes(model: onnx.ModelProto) -> int:
    return sum(declared_bytes(t) for t in model.graph.initializer)


def declared_bytes(tensor: onnx.TensorProto) -> int:
    """The tensor's size in bytes from its dims and element type, whether its bytes are in
    ``raw_data``, in ``weights`` beside the model, or still to come. ``len(raw_data)`` is not
    asked: protobuf hands out a bytes field as a new copy (VGG's 411 MB classifier weight:
    411 MB more at the peak). Sub-byte and unknown types fall back to the raw data's length."""
    try:
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 0
    if itemsize == 0 or tensor.data_type in _PACKED_TYPES:
        return len(tensor.raw_data) if tensor.HasField("raw_data") else 0
    count = 1
    for dim in tensor.dims:
        count *= dim
    return count * itemsize


def is_large(model: onnx.ModelProto) -> bool:
    return weight_bytes(model) > LARGE_BYTES


def fill_weights(model: onnx.ModelProto, weights: Weights) -> onnx.ModelProto:
    """Copy ``weights`` into ``model``'s initializers (one copy each): a complete ModelProto."""
    for tensor in model.graph.initializer:
        array = weights.get(tensor.name)
        if array is not None:
            tensor.raw_data = array.tobytes()
    return model


def checkable(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with each initializer over CHECKED_BYTES declared as a graph input of its
    type and shape instead: what the checker and shape inference look at, minus the bytes."""
    light = _copy_fields(model, onnx.ModelProto(), skip={"graph"})
    _copy_fields(model.graph, light.graph, skip={"initializer"})
    for tensor in model.graph.initializer:
        if declared_bytes(tensor) <= CHECKED_BYTES:
            light.graph.initializer.append(tensor)
        else:
            light.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims))
    return light


def _copy_fields(source, target, skip: set):
    """Copy every set field of one protobuf message into another, except ``skip``."""
    for field, value in source.ListFields():
        if field.name in skip:
            continue
        if field.is_repeated:
            getattr(target, field.name).extend(value)
        elif field.type == field.TYPE_MESSAGE:
            getattr(target, field.name).CopyFrom(value)
        else:
            setattr(target, field.name, value)
    return target


def runtime_source(model: onnx.ModelProto, weights: Weights = NO_WEIGHTS) -> Union[bytes, str]:
    """What onnxruntime.InferenceSession takes: bytes for a small model, else a file path
    (kept in a temporary folder until the process exits), which spares a serialized copy."""
    if weight_bytes(model) <= RUN_FROM_FILE_BYTES:
        return b"".join(serialized_pieces(model, weights))
    folder = tempfile.mkdtemp(prefix="graphnn-run-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = os.path.join(folder, "model.onnx")
    _write(model, path, weights)
    return path


def save_onnx(model: onnx.ModelProto, path: str, weights: Weights = NO_WEIGHTS) -> list[str]:
    """Write ``path`` (and ``path.data`` when large) atomically; returns the files written."""
    return write_staged(path, lambda staged: _write(model, staged, weights))


def _write(model: onnx.ModelProto, path: str, weights: Weights) -> list[str]:
    """Write one file, or the model plus ``<name>.data`` when large; returns the file names."""
    name = os.path.basename(path)
    if not is_large(model):
        with open(path, "wb") as handle:
            write_streamed(model, handle, weights)
        return [name]
    with open(f"{path}.data", "wb") as data:
        places = _write_external_data(model, weights, data, f"{name}.data")
    with open(path, "wb") as handle:
        write_streamed(model, handle, weights, places)
    return [name, f"{name}.data"]


def _write_external_data(model: onnx.ModelProto, weights: Weights, data, location: str) -> dict[str, dict]:
    """Each initializer over CHECKED_BYTES into ``data``, aligned; returns name -> its
    ``external_data`` entries (location, offset, length), as ``onnx.save_model`` writes them."""
    places = {}
    for tensor in model.graph.initializer:
        payload = _payload(tensor, weights)
        if payload is None or declared_bytes(tensor) <= CHECKED_BYTES:
            continue
        offset = -data.tell() % EXTERNAL_ALIGNMENT + data.tell()
        data.write(b"\0" * (offset - data.tell()))
        length, chunks = payload
        for chunk in chunks:
            data.write(chunk)
        places[tensor.name] = {"location": location, "offset": str(offset), "length": str(length)}
    return places


def write_streamed(model: onnx.ModelProto, handle, weights: Weights = NO_WEIGHTS,
                   external: Optional[dict[str, dict]] = None) -> None:
    """The bytes ``model.SerializeToString()`` would give (up to field order), written one
    piece at a time (``serialized_pieces``)."""
    for piece in serialized_pieces(model, weights, external):
        handle.write(piece)


def serialized_pieces(model: onnx.ModelProto, weights: Weights = NO_WEIGHTS,
                      external: Optional[dict[str, dict]] = None) -> Iterator[bytes]:
    """The serialized model in pieces: protobuf parsers merge concatenated fields, so the
    model without its initializers goes first, then each initializer as one more
    ``graph.initializer``, its ``raw_data`` field written by hand after the rest of the tensor,
    from ``weights`` when the bytes are there (a view of the torch tensor: no copy at all).
    protobuf (upb) serializes a large bytes field some 40 times slower than it copies it out
    (100 ms against 2 ms for 20 MB), and asking a message its ByteSize costs one more
    serialization, so the bytes are never serialized by protobuf. ``external``: initializers
    whose bytes are in a .data file, by name, with their ``external_data`` entries."""
    external = external or {}
    head = _copy_fields(model, onnx.ModelProto(), skip={"graph"}).SerializeToString()
    graph = _copy_fields(model.graph, onnx.GraphProto(), skip={"initializer"}).SerializeToString()
    tensors = [(_tensor_head(t, external.get(t.name)),
                None if t.name in external else _payload(t, weights)) for t in model.graph.initializer]
    sizes = [len(rest) + (_field_size(_RAW_DATA_FIELD, payload[0]) if payload is not None else 0)
             for rest, payload in tensors]
    graph_size = len(graph) + sum(_field_size(_INITIALIZER_FIELD, n) for n in sizes)
    yield head + _key(_GRAPH_FIELD) + _varint(graph_size) + graph
    for (rest, payload), size in zip(tensors, sizes):
        yield _key(_INITIALIZER_FIELD) + _varint(size) + rest
        if payload is not None:
            length, chunks = payload
            yield _key(_RAW_DATA_FIELD) + _varint(length)
            yield from chunks


def _payload(tensor: onnx.TensorProto, weights: Weights) -> Optional[tuple[int, Iterator]]:
    """(length, the tensor's raw bytes in pieces, produced when iterated): from its array in
    ``weights`` (views of it, or blocks of a strided one), else its ``raw_data`` (a copy protobuf
    hands out); None when its values are in a typed field."""
    array = weights.get(tensor.name)
    if array is not None:
        return array.nbytes, _c_order_blocks(array)
    if tensor.HasField("raw_data"):
        return declared_bytes(tensor), _raw_data_when_iterated(tensor)
    return None


def _raw_data_when_iterated(tensor: onnx.TensorProto) -> Iterator[bytes]:
    """``raw_data`` read only when written: protobuf hands it out as a copy, so reading every
    tensor's up front would hold all the copies at once."""
    yield tensor.raw_data


def _c_order_blocks(array: np.ndarray) -> Iterator[memoryview]:
    """The array's bytes in C order: a view of it when contiguous, else copied BLOCK_BYTES
    at a time (a transposed weight costs one block, not its size)."""
    if array.flags.c_contiguous:
        yield memoryview(array.reshape(-1)).cast("B")
        return
    rows = max(1, BLOCK_BYTES // max(1, array[0].nbytes))
    for start in range(0, len(array), rows):
        yield memoryview(np.ascontiguousarray(array[start:start + rows]).reshape(-1)).cast("B")


def _field_size(field_number: int, length: int) -> int:
    """Bytes of a length-delimited field holding ``length`` bytes, with its tag."""
    return len(_key(field_number)) + len(_varint(length)) + length


def _tensor_head(tensor: onnx.TensorProto, external: Optional[dict] = None) -> bytes:
    """The tensor serialized without its raw_data; pointing at ``external`` data if given."""
    rest = _copy_but_raw(tensor, onnx.TensorProto())
    if external is not None:
        rest.data_location = onnx.TensorProto.EXTERNAL
        for key, value in external.items():
            rest.external_data.add(key=key, value=value)
    return rest.SerializeToString()


def _copy_but_raw(tensor: onnx.TensorProto, rest: onnx.TensorProto) -> onnx.TensorProto:
    """Every field of ``tensor`` but raw_data (which is not touched) into ``rest``."""
    for field in tensor.DESCRIPTOR.fields:  # every field but raw_data, which is not touched
        if field.name == "raw_data":
            continue
        value = getattr(tensor, field.name)
        if field.is_repeated:
            getattr(rest, field.name).extend(value)
        elif tensor.HasField(field.name):
            if field.type == field.TYPE_MESSAGE:
                getattr(rest, field.name).CopyFrom(value)
            else:
                setattr(rest, field.name, value)
    return rest


def _key(field_number: int) -> bytes:
    """The tag of a length-delimited protobuf field."""
    return _varint(field_number << 3 | 2)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
