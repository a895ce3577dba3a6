"""Lowering of ``dynamic_quantized_linear`` to ONNX integer ops, the way onnxruntime's
own quantizer writes a dynamically quantized MatMul:

    x -> [quantize to uint8: x_q, x_scale, x_zero] -> MatMulInteger(x_q, W_q^T, x_zero, w_zero)
      -> Cast float -> Mul (x_scale * w_scale) -> Add bias

The input is quantized like torch does it, so the integers agree: with the full uint8
range that is exactly DynamicQuantizeLinear; with torch's halved range (reduce_range,
qmax 127) it is DynamicQuantizeLinear's formula spelled out with qmax 127
(ReduceMin/ReduceMax, scale, zero point, QuantizeLinear).

The integer products follow the engine's. onnxruntime, like fbgemm (torch's x86 engine),
multiplies uint8 by int8 on AVX2 CPUs without VNNI with an instruction that saturates pairs
of products at int16 (VPMADDUBSW); the halved range never reaches it (2 x 127 x 128 < 32768),
and a full-range x86 layer saturates alike in both. qnnpack multiplies exactly, so for it the
int8 weights are stored shifted to uint8 (w + 128, zero point + 128: the same integers once
the zero point is taken off), which onnxruntime multiplies without saturating: with int8
weights its file was 25% off on such a CPU.
"""
import torch
from onnx import TensorProto

from graphnn.backend.onnx.registry import lowers
from graphnn.ops.quantized import DYNAMIC_QUANTIZED_LINEAR


def _full_range(ctx, x):
    """DynamicQuantizeLinear: qmax 255, round half to even, as torch's non-reduced path."""
    return ctx.add("DynamicQuantizeLinear", [x], 3)


def _reduced_range(ctx, x, qmax: int = 127):
    """DynamicQuantizeLinear's formula with a [0, qmax] range: scale = (max(x, 0) - min(x, 0))
    / qmax, zero point = round(-min / scale). An all-zero input has range 0; any positive
    scale quantizes it to 0 (torch takes 0.1), so the scale is kept above the tiniest float."""
    low = ctx.add1("Min", [ctx.add1("ReduceMin", [x], keepdims=0), ctx.const(0.0, "float32", "zero")])
    high = ctx.add1("Max", [ctx.add1("ReduceMax", [x], keepdims=0), ctx.const(0.0, "float32", "zero")])
    scale = ctx.add1("Div", [ctx.add1("Sub", [high, low]), ctx.const(float(qmax), "float32", "qmax")])
    scale = ctx.add1("Max", [scale, ctx.const(1e-38, "float32", "tiniest")])
    zero = ctx.add1("Round", [ctx.add1("Neg", [ctx.add1("Div", [low, scale])])])
    zero = ctx.add1("Cast", [zero], to=TensorProto.UINT8)
    return ctx.add1("QuantizeLinear", [x, scale, zero]), scale, zero


ACTIVATION_QUANTIZERS = {255: _full_range, 127: _reduced_range}


@lowers(DYNAMIC_QUANTIZED_LINEAR)
def dynamic_quantized_linear(ctx, node):
    x_q, x_scale, x_zero = ACTIVATION_QUANTIZERS[node.attrs["activation_qmax"]](ctx, ctx.input(node))
    prefix = node.module or node.name
    weight, weight_zero = node.params["weight"], node.params["weight_zero_point"]
    if node.attrs.get("exact_products"):
        weight, weight_zero = _as_uint8(weight), _as_uint8(weight_zero)
    weight_t = ctx.initializer(f"{prefix}.weight_t", weight.t())
    product = ctx.add1("MatMulInteger", [x_q, weight_t, x_zero, ctx.param(node, "weight_zero_point", weight_zero)])
    scale = ctx.add1("Mul", [x_scale, ctx.param(node, "weight_scale")])
    has_bias = node.params.get("bias") is not None
    out = ctx.add1("Mul", [ctx.add1("Cast", [product], to=TensorProto.FLOAT), scale],
                   None if has_bias else ctx.output(node))
    if has_bias:
        ctx.add1("Add", [out, ctx.param(node, "bias")], ctx.output(node))


def _as_uint8(values: torch.Tensor) -> torch.Tensor:
    """int8 values shifted into uint8 (+128); a uint8 tensor is returned as it is."""
    if values.dtype == torch.uint8:
        return values
    return (values.to(torch.int16) + 128).to(torch.uint8)
