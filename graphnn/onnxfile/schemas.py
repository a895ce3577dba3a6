"""Dtype policy, at the checker: what graphnn does with a float16, bfloat16 or float64 model.

Every dtype is kept in the file as the model has it (a half model ships as half). Parity
then runs at that dtype's tolerance (``graphnn.checking.tolerances``). Two things can stand in the
way, and each is refused naming the layer instead of ending in a traceback:

- the ONNX opset has no such op for the dtype (a bfloat16 Conv needs opset 22): said with
  the opset that adds it (``check_schemas``, before the checker runs);
- onnxruntime's provider has no kernel for it (float64 Conv, float64 Erf, almost every
  bfloat16 op on CPU), or its Python API cannot feed the dtype (bfloat16 arrays): said by
  ``checking.runtime.create_runtime`` with ``onnxfile.kernels``.

What a user can do is the same in both cases: convert the model (``model.float()``) to
check it here, or write it unchecked (``--no-parity``) for a runtime that has the kernels.
"""
from __future__ import annotations

from typing import Optional

import onnx
from onnx import TensorProto

from graphnn.errors import UnsupportedError
from graphnn.onnxfile.serialize import checkable
from graphnn.onnxfile.types import FLOAT_TYPES, ONNX_NAMES

ADVICE = ("convert the model to float32 (model.float()) to export and check it here, or write it "
          "unchecked with --no-parity for a runtime that has the kernel")

_ONNX_TYPE_STR = {code: onnx.helper.tensor_dtype_to_string(code).replace("TensorProto.", "").lower()
                  for code in ONNX_NAMES}  # TensorProto.FLOAT -> "float", as schemas write tensor(float)


def element_types(model: onnx.ModelProto) -> dict[str, int]:
    """Each named tensor's ONNX elem type, from what the file declares (inputs, outputs,
    value_info, initializers); no inference, so it costs one pass over the graph's lists."""
    graph = model.graph
    types = {t.name: t.data_type for t in graph.initializer}
    for info in (*graph.input, *graph.value_info, *graph.output):
        if info.type.HasField("tensor_type"):
            types[info.name] = info.type.tensor_type.elem_type
    return types


def float_types(model: onnx.ModelProto) -> set[int]:
    """The float elem types the file computes with."""
    return {t for t in element_types(model).values() if t in FLOAT_TYPES}


def describe_node(node: onnx.NodeProto) -> str:
    """``layer 0 (Conv2d at model.py:5)``: the ONNX node's name is the layer path and its
    doc_string the torch layer and source line (``EmitContext``)."""
    layer = node.name.split("/")[0] or node.op_type
    return f"layer {layer} ({node.doc_string})" if node.doc_string else f"layer {layer}"


def check_schemas(model: onnx.ModelProto) -> None:
    """Refuse, naming the layer, a node whose input dtype its ONNX op does not accept at the
    model's opset; say which later opset accepts it. Only files computing in a float type
    other than float32 are looked at: float32 is every op's type."""
    if not float_types(model) - {TensorProto.FLOAT}:
        return
    opset = _default_opset(model)
    inferred = onnx.shape_inference.infer_shapes(without_weights(model), strict_mode=False)
    types = element_types(inferred)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        for index, name in enumerate(node.input):
            code = types.get(name)
            if code in ONNX_NAMES and not _accepts(node.op_type, opset, index, code):
                raise UnsupportedError(_schema_message(node, opset, code, index))


def _schema_message(node: onnx.NodeProto, opset: int, code: int, index: int) -> str:
    from graphnn.backend.onnx.opsets import max_opset  # onnxruntime's newest: a hint it can load
    dtype = ONNX_NAMES[code]
    later = _first_opset_accepting(node.op_type, opset, code, index, max_opset())
    hint = f"opset {later} adds it (--opset {later}); or " if later else ""
    return (f"{describe_node(node)}: ONNX {node.op_type} has no {dtype} version at opset {opset}: "
            f"{hint}{ADVICE}")


def _accepts(op_type: str, opset: int, index: int, code: int) -> bool:
    try:
        schema = onnx.defs.get_schema(op_type, opset)
    except onnx.defs.SchemaError:
        return True  # not ours to judge: the checker names unknown ops
    allowed = _allowed_types(schema, index)
    return allowed is None or f"tensor({_ONNX_TYPE_STR[code]})" in allowed


def _allowed_types(schema, index: int) -> Optional[set[str]]:
    formal = schema.inputs[min(index, len(schema.inputs) - 1)] if schema.inputs else None
    if formal is None:
        return None
    constraints = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    return constraints.get(formal.type_str, {formal.type_str})


def _first_opset_accepting(op_type: str, opset: int, code: int, index: int, last: int) -> Optional[int]:
    for version in range(opset + 1, last + 1):
        try:
            schema = onnx.defs.get_schema(op_type, version)
        except onnx.defs.SchemaError:
            return None
        allowed = _allowed_types(schema, index)
        if allowed and f"tensor({_ONNX_TYPE_STR[code]})" in allowed:
            return schema.since_version
    return None


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


def without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with initializers declared as typed inputs: enough for type inference."""
    return checkable(model)  # the same light copy the checker sees
