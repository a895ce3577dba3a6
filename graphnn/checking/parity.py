"""Parity: does the ONNX model compute what the PyTorch model computes?

Each output passes when ``max |onnx - torch| <= atol + rtol * max |torch|``: float32
rounding grows with the magnitude of what was accumulated, so the tolerance scales with
the output's largest magnitude rather than with each element (elementwise allclose flags
near-zero elements of a large output for noise). Reported per output: max abs error, that
error relative to the output's largest magnitude, the share of elements beyond the
tolerance (one bad element or all of them) and where the worst one is. NaN and inf must
appear in the same places. With a dynamic batch, parity runs at the example batch and at
two other sizes of every dynamic dim (batch 1 and 3; a sequence one longer and one
shorter), or at the sizes asked for: a batch of 1 alone hides batch bugs, one sequence
length hides length bugs. ``runs`` draws more random inputs at each size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import onnx
import torch

from graphnn.hf.cache import with_derived_sizes
from graphnn.errors import InputSpecError, ShapeError
from graphnn.inputs import ModelInputs, like
from graphnn.modes import eval_mode
from graphnn.onnxfile.read import graph_inputs
from graphnn.onnxfile.types import dtype_name as onnx_dtype_name
from graphnn.checking.runtime import Runtime
from graphnn.checking.tolerances import FLOAT32
from graphnn.tensors import dtype_name, flatten_outputs, to_numpy

DEFAULT_ATOL = FLOAT32.atol  # the float32 defaults; graphnn.checking.tolerances picks per model
DEFAULT_RTOL = FLOAT32.rtol
# On CUDA, onnxruntime's kernels (cuDNN / cuBLAS with TF32 off, graphnn.checking.runtime) sum in other
# orders than torch's CPU kernels, the reference, and may pick FFT or Winograd convolutions:
# float32 results agree to about 1e-5 of an output's largest magnitude rather than 1e-6, so
# the default rtol there is at least CUDA_MIN_RTOL. A wrong lowering is off by far more.
CUDA_MIN_RTOL = 1e-3


def device_rtol(rtol: float, device: str) -> float:
    """The default rtol on the device parity really ran on (``auto`` may have fallen back to CPU)."""
    return max(rtol, CUDA_MIN_RTOL) if device == "cuda" else rtol


@dataclass
class OutputParity:
    name: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool
    problem: str = ""
    out_of_tolerance: float = 0.0  # share of the elements whose error exceeds the tolerance
    worst_index: tuple = ()  # where the largest error is

    def detail(self) -> str:
        if self.problem:
            return self.problem
        if self.ok:
            return f"max abs {self.max_abs:.2e}, max rel {self.max_rel:.2e}"
        at = f" at [{', '.join(map(str, self.worst_index))}]" if self.worst_index else ""
        return (f"max abs {self.max_abs:.2e}{at}, max rel {self.max_rel:.2e}, "
                f"{_percent(self.out_of_tolerance)} of elements out of tolerance")

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "ok": self.ok, "max_abs": _finite(self.max_abs),
                "max_rel": _finite(self.max_rel), "out_of_tolerance": self.out_of_tolerance,
                "worst_index": list(self.worst_index), "problem": self.problem}


@dataclass
class ParityRun:
    sizes: dict  # each dynamic dim's size in this run ({} for static shapes)
    outputs: list[OutputParity]
    inputs: list = field(default_factory=list, repr=False)  # what both sides were fed
    draw: int = 0  # which random draw at these sizes (0: the example itself at its sizes)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    @property
    def batch(self) -> Optional[int]:
        return self.sizes.get("batch")

    @property
    def label(self) -> str:
        label = ", ".join(f"{symbol} {size}" for symbol, size in self.sizes.items()) or "static shapes"
        return f"{label}, draw {self.draw + 1}" if self.draw else label

    def to_dict(self) -> dict:
        return {"sizes": dict(self.sizes), "draw": self.draw, "ok": self.ok,
                "outputs": [o.to_dict() for o in self.outputs]}


@dataclass
class ParityReport:
    runs: list[ParityRun] = field(default_factory=list)
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    device: str = "cpu"
    note: str = ""  # e.g. why auto ran on CPU
    diagnosis: str = ""  # on a mismatch: the first divergent layer
    problem: str = ""  # why nothing could be compared (the file's inputs do not fit the model)

    @property
    def ok(self) -> bool:
        return not self.problem and bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for r in self.runs for o in r.outputs), default=0.0)

    def lines(self) -> list[str]:
        out = [f"  {self.problem}"] if self.problem else []
        for run in self.runs:
            for o in run.outputs:
                shape = "x".join(map(str, o.shape)) or "scalar"
                out.append(f"  {run.label}: {o.name} [{shape}] {o.detail()} ... {'ok' if o.ok else 'MISMATCH'}")
        if self.diagnosis:
            out.append(self.diagnosis)
        return out

    def summary(self) -> str:
        if self.problem:
            return f"parity FAILED on {self.device}: nothing compared, the ONNX file does not take the model's inputs"
        word = "ok" if self.ok else "FAILED"
        return (f"parity {word} on {self.device} (atol {self.atol:g}, rtol {self.rtol:g}): "
                f"max abs error {self.max_abs:.2e}")

    def to_dict(self) -> dict:
        """The report for tools (``graphnn check --json``); non-finite errors are null."""
        return {"ok": self.ok, "device": self.device, "atol": self.atol, "rtol": self.rtol,
                "max_abs": _finite(self.max_abs), "problem": self.problem, "diagnosis": self.diagnosis.strip(),
                "note": self.note, "runs": [run.to_dict() for run in self.runs]}


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.2%}"


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def compare(name: str, expected: np.ndarray, actual: np.ndarray, atol: float, rtol: float) -> OutputParity:
    if expected.shape != actual.shape:
        return OutputParity(name, tuple(expected.shape), float("inf"), float("inf"), False,
                            f"shape {actual.shape} from onnxruntime, {expected.shape} from torch")
    if expected.dtype == bool or not np.issubdtype(expected.dtype, np.number):
        return _compare_exact(name, expected, actual)
    dtype = _comparison_dtype(expected, actual)
    exp = np.asarray(expected, dtype=dtype)  # no copy when it already is
    act = np.asarray(actual, dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.subtract(exp, act, out=np.empty(exp.shape, dtype))  # an array even for 0-d outputs
        np.abs(diff, out=diff)
    unsettled = ~np.isfinite(diff)  # inf - inf, NaNs: equal infs and NaNs agree, the rest is inf
    if unsettled.any():
        same = (exp == act) | (np.isnan(exp) & np.isnan(act))
        diff[unsettled] = np.where(same[unsettled], 0.0, np.inf)
    max_abs = float(diff.max()) if diff.size else 0.0
    finite = np.abs(exp[np.isfinite(exp)])
    scale = float(finite.max()) if finite.size else 0.0
    tolerance = atol + rtol * scale
    ok = max_abs <= tolerance
    return OutputParity(name, expected.shape, max_abs, max_abs / scale if scale else max_abs, ok,
                        out_of_tolerance=float((diff > tolerance).mean()) if diff.size else 0.0,
                        worst_index=_index_of_max(diff))


def _comparison_dtype(expected: np.ndarray, actual: np.ndarray) -> type:
    """float32 outputs are compared in float32 (a difference of two float32 values loses
    nothing that matters at any tolerance parity uses, and half the memory: a language model's
    logits are millions of values); float64 and integer outputs in float64."""
    low = (np.float16, np.float32)
    return np.float32 if expected.dtype in low and actual.dtype in low else np.float64


def _compare_exact(name: str, expected: np.ndarray, actual: np.ndarray) -> OutputParity:
    """bool and other non-numeric outputs must be equal element for element."""
    unequal = np.asarray(expected != actual)
    share = float(unequal.mean()) if unequal.size else 0.0
    error = 0.0 if share == 0 else 1.0
    return OutputParity(name, expected.shape, error, error, share == 0, out_of_tolerance=share,
                        worst_index=_index_of_max(unequal))


def _index_of_max(values: np.ndarray) -> tuple:
    if values.size == 0 or values.ndim == 0:
        return ()
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(values)), values.shape))


def torch_outputs(model: torch.nn.Module, inputs: ModelInputs,
                  tensors: Optional[Sequence[torch.Tensor]] = None) -> list[np.ndarray]:
    """Eval-mode outputs, the caller's train/eval modes restored afterwards. The model gets
    copies of the inputs: an in-place first layer must not change what onnxruntime is fed."""
    tensors = inputs.tensors if tensors is None else tensors
    with eval_mode(model), torch.no_grad():
        result = inputs.call(model, [t.clone() for t in tensors])
    return [to_numpy(t) for t in flatten_outputs(result)]


def _torch_outputs_at(model: torch.nn.Module, inputs: ModelInputs, tensors: list, sizes: dict,
                      is_example: bool) -> list[np.ndarray]:
    """torch's outputs; a model that fails in torch at another size than the example's was
    given a dim as dynamic that is not (the batch of a sequence-first RNN is dim 1): say so."""
    if is_example:
        return torch_outputs(model, inputs, tensors)
    try:
        return torch_outputs(model, inputs, tensors)
    except Exception as exc:  # the user's model refused these sizes
        shown = ", ".join(f"{symbol}={size}" for symbol, size in sizes.items())
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ShapeError(
            f"the model fails in torch when its dynamic dims are {shown} ({detail}); if these dims are not "
            f"really dynamic, name the ones that are (--dynamic 0=seq,1=batch / dynamic_dims=...) or use --static"
        ) from None


# ------------------------------------------------------------------ what parity is fed
def size_plans(symbols: dict[str, int], sizes: Optional[dict[str, Sequence[int]]] = None) -> list[dict[str, int]]:
    """The sizes parity runs at: the example's, then two others for every dynamic dim
    (``batch`` 1 and 3, or 2 for the example's own; any other dim one longer, then one
    shorter), duplicates dropped. ``sizes`` lists a dim's sizes instead (``{"batch": [1, 4,
    16]}``): each is checked once, the other dims taking their own sizes in turn."""
    sizes = dict(sizes or {})
    unknown = sorted(set(sizes) - set(symbols))
    if unknown:
        have = ", ".join(symbols) or "none, every input dim is fixed"
        raise InputSpecError(f"sizes of {unknown[0]!r} asked for, but it is not a dynamic dim of the ONNX model's "
                             f"inputs (dynamic dims: {have})")
    choices = {symbol: list(sizes.get(symbol) or [_other_size(symbol, size, k) for k in range(2)])
               for symbol, size in symbols.items()}
    plans = [dict(symbols)]
    for k in range(max((len(c) for c in choices.values()), default=0)):
        plan = with_derived_sizes({symbol: c[k % len(c)] for symbol, c in choices.items()})
        if plan not in plans:
            plans.append(plan)
    return plans


def _other_size(symbol: str, size: int, k: int) -> int:
    if symbol == "batch":  # 1 and 3, or 2 in place of the example's own size
        return [b for b in (1, 3, 2) if b != size][k]
    return size + 1 if k == 0 else max(1, size - 1)


def draw_inputs(inputs: ModelInputs, sizes: dict[str, int], draw: int,
                generator: torch.Generator) -> list[torch.Tensor]:
    """What both sides are fed at ``sizes``: the example itself first at its own sizes; at
    other sizes, random inputs for the dynamic ones (``ModelInputs.resized``); later draws
    make every input random. Random values stay valid (``inputs.like``: integers in the
    example's range) and a 0/1 mask whose example is all ones gets padding."""
    if draw == 0 and sizes == inputs.symbols:
        return list(inputs.tensors)
    if draw == 0:
        tensors = inputs.resized(sizes, generator)
    else:
        tensors = [like(item.example, _shape_at(item, sizes), generator) for item in inputs.items]
    return [_padded(item, t, generator) if t is not item.example else t for item, t in zip(inputs.items, tensors)]


def _shape_at(item, sizes: dict[str, int]) -> tuple:
    shape = list(item.example.shape)
    for index, symbol in item.dims:
        shape[index] = sizes[symbol]
    return tuple(shape)


def _padded(item, tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An attention mask whose example is all ones would stay all ones, so padding would
    never be checked: each row keeps ones up to a random length (at least one) and zeros
    after, the way padded batches look."""
    example = item.example
    if "mask" not in item.name.lower() or example.dtype == torch.bool or tensor.dim() == 0 or tensor.numel() == 0:
        return tensor
    if not bool((example == 1).all()):
        return tensor
    length = tensor.shape[-1]
    kept = torch.randint(1, length + 1, tensor.shape[:-1] + (1,), generator=generator)
    return (torch.arange(length) < kept).to(tensor.dtype)


# ------------------------------------------------------------------ files from elsewhere
def input_problem(model: onnx.ModelProto, inputs: ModelInputs) -> str:
    """Why this ONNX file cannot take the model's example inputs ("" when it can): the
    count, each input's rank, fixed dims and dtype. A file exported from another model
    usually fails here, before anything runs."""
    declared = graph_inputs(model)
    if len(declared) != len(inputs.items):
        return (f"the ONNX file takes {len(declared)} input(s) ({', '.join(i.name for i in declared)}), "
                f"the model {len(inputs.items)} ({', '.join(inputs.names)}): is it this model's file?")
    for value, item in zip(declared, inputs.items):
        tensor_type = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        shown = "x".join(str(d) if d is not None else "?" for d in dims)
        example = tuple(item.example.shape)
        dtype = onnx_dtype_name(tensor_type.elem_type) or f"ONNX type {tensor_type.elem_type}"
        fits = len(dims) == len(example) and all(d is None or d == e for d, e in zip(dims, example))
        if not fits or dtype != dtype_name(item.example.dtype):
            return (f"the ONNX file's input {value.name!r} is {shown}:{dtype}, the model's {item.name!r} example "
                    f"is {'x'.join(map(str, example)) or 'scalar'}:{dtype_name(item.example.dtype)}: "
                    f"is it this model's file?")
    return ""


def check(model: torch.nn.Module, runtime: Runtime, inputs: ModelInputs, output_names: Sequence[str],
          atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, seed: int = 0, runs: int = 1,
          sizes: Optional[dict[str, Sequence[int]]] = None) -> ParityReport:
    """Run torch and onnxruntime on the same inputs, ``runs`` draws at each size plan."""
    report = ParityReport(atol=atol, rtol=rtol, device=runtime.device)
    generator = torch.Generator().manual_seed(seed)
    example_sizes = inputs.symbols
    for plan in size_plans(example_sizes, sizes):
        for draw in range(runs):
            tensors = draw_inputs(inputs, plan, draw, generator)
            expected = _torch_outputs_at(model, inputs, tensors, plan, plan == example_sizes)
            actual = runtime.run(dict(zip(runtime.input_names, (to_numpy(t) for t in tensors))))
            report.runs.append(ParityRun(plan, _compare_all(output_names, expected, actual, atol, rtol),
                                         tensors, draw))
    return report


def _compare_all(names: Sequence[str], expected: list, actual: list, atol: float, rtol: float) -> list[OutputParity]:
    outputs = [compare(name, e, a, atol, rtol) for name, e, a in zip(names, expected, actual)]
    if len(expected) != len(actual):
        outputs.append(OutputParity("outputs", (), float("inf"), float("inf"), False,
                                    f"onnxruntime gives {len(actual)} output(s), torch {len(expected)}"))
    return outputs
