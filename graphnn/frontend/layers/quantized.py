"""Rules for dynamically quantized layers, as ``torch.ao.quantization.quantize_dynamic``
writes them: ``torch.ao.nn.quantized.dynamic.Linear``.

An int8 dynamic Linear keeps int8 weights and quantizes its input to uint8 on every call
(per tensor, from the input's own min and max). Canonical op ``dynamic_quantized_linear``:
params ``weight`` (int8, out x in), ``weight_scale`` / ``weight_zero_point`` (scalars, or
one per output feature for per-channel weights), ``bias``; attr ``activation_qmax``, the
top of the uint8 range torch quantizes the input to: 255, or 127 when the quantized engine
halves the range (``reduce_range``, which x86/fbgemm kernels use to avoid int16 overflow),
read from ``torch.backends.quantized.engine`` at trace time; attr ``exact_products``: whether
the engine multiplies uint8 by int8 exactly (qnnpack) rather than with int16 pair sums that
saturate on CPUs without VNNI (fbgemm/x86), which the ONNX file must reproduce. A float16 dynamic Linear only rounds its weights to float16 and computes in float32,
so it is a plain ``linear``.

Dynamically quantized LSTM / GRU / RNN cells have no rule, so they are refused by their
own class name (``torch.ao.nn.quantized.dynamic.LSTM``): torch re-quantizes the hidden
state at every time step, which one ONNX LSTM node cannot do and graphnn does not unroll.
``quantize_dynamic(model, {nn.Linear})`` keeps them float.
"""
import torch
import torch.ao.nn.quantized.dynamic as nnqd

from graphnn.frontend.rules import module_rule
from graphnn.ops.linear import LINEAR
from graphnn.ops.quantized import DYNAMIC_QUANTIZED_LINEAR

# Quantized engines whose dynamic linear honours reduce_range=True (qnnpack ignores it).
_REDUCED_RANGE_ENGINES = {"x86", "fbgemm", "onednn"}
# Quantized engines whose integer matmul never saturates (qnnpack stores uint8 weights).
_EXACT_PRODUCT_ENGINES = {"qnnpack"}
# From this module version on, nnqd.Linear asks for reduce_range=True (torch's Linear.forward).
_REDUCE_RANGE_SINCE_VERSION = 4


@module_rule(nnqd.Linear)
def dynamic_linear(b, module, x):
    weight = module.weight()
    if not weight.is_quantized:  # float16 weights: torch computes a float32 linear on them
        return b.emit(LINEAR, [x], params={"weight": weight.float(), "bias": module.bias()})
    if weight.dtype != torch.qint8:
        raise b.unsupported(f"a dynamic quantized Linear with {weight.dtype} weights (quantize with "
                            f"dtype=torch.qint8 or torch.float16)")
    scale, zero_point = _weight_quantization(b, weight)
    return b.emit(DYNAMIC_QUANTIZED_LINEAR, [x], activation_qmax=activation_qmax(module),
                  exact_products=torch.backends.quantized.engine in _EXACT_PRODUCT_ENGINES,
                  params={"weight": weight.int_repr(), "weight_scale": scale,
                          "weight_zero_point": zero_point, "bias": module.bias()})


def activation_qmax(module) -> int:
    """255, or 127 when torch's engine quantizes this layer's input with reduce_range."""
    version = getattr(module, "version", None) or 0
    reduces = (version >= _REDUCE_RANGE_SINCE_VERSION
               and torch.backends.quantized.engine in _REDUCED_RANGE_ENGINES)
    return 127 if reduces else 255


def _weight_quantization(b, weight):
    """(scale float32, zero point int8): scalars per tensor, vectors over output features
    per channel."""
    scheme = weight.qscheme()
    if scheme == torch.per_tensor_affine:
        return (torch.tensor(weight.q_scale(), dtype=torch.float32),
                torch.tensor(weight.q_zero_point(), dtype=torch.int8))
    if scheme == torch.per_channel_affine and weight.q_per_channel_axis() == 0:
        return (weight.q_per_channel_scales().float(), weight.q_per_channel_zero_points().to(torch.int8))
    raise b.unsupported(f"a dynamic quantized Linear with {scheme} weights (use per-tensor or "
                        f"per-channel qint8 weights)")
