"""Parity: does the ONNX model compute what the PyTorch model computes?

Each output passes when ``max |onnx - torch| <= atol + rtol * max |torch|``: float32
rounding grows with the magnitude of what was accumulated, so the tolerance scales with
the output's largest magnitude rather than with each element (elementwise allclose flags
near-zero elements of a large output for noise). Reported: max abs error, and that error
relative to the output's largest magnitude. NaN and inf must appear in the same places. With a dynamic batch, parity runs at the example batch
and at two other sizes of every dynamic dim (batch 1 and 3; a sequence one longer and one
shorter): a batch of 1 alone hides batch bugs, one sequence length hides length bugs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from graphnn.errors import ShapeError
from graphnn.inputs import ModelInputs
from graphnn.modes import eval_mode
from graphnn.runtime import Runtime
from graphnn.tolerances import FLOAT32
from graphnn.tensors import flatten_outputs, to_numpy

DEFAULT_ATOL = FLOAT32.atol  # the float32 defaults; graphnn.tolerances picks per model
DEFAULT_RTOL = FLOAT32.rtol


@dataclass
class OutputParity:
    name: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool
    problem: str = ""


@dataclass
class ParityRun:
    sizes: dict  # each dynamic dim's size in this run ({} for static shapes)
    outputs: list[OutputParity]
    inputs: list = field(default_factory=list, repr=False)  # what both sides were fed

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    @property
    def batch(self) -> Optional[int]:
        return self.sizes.get("batch")

    @property
    def label(self) -> str:
        return ", ".join(f"{symbol} {size}" for symbol, size in self.sizes.items()) or "static shapes"


@dataclass
class ParityReport:
    runs: list[ParityRun] = field(default_factory=list)
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    device: str = "cpu"
    note: str = ""  # e.g. why auto ran on CPU
    diagnosis: str = ""  # on a mismatch: the first divergent layer

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for r in self.runs for o in r.outputs), default=0.0)

    def lines(self) -> list[str]:
        out = []
        for run in self.runs:
            label = run.label
            for o in run.outputs:
                verdict = "ok" if o.ok else "MISMATCH"
                detail = o.problem or f"max abs {o.max_abs:.2e}, max rel {o.max_rel:.2e}"
                shape = "x".join(map(str, o.shape)) or "scalar"
                out.append(f"  {label}: {o.name} [{shape}] {detail} ... {verdict}")
        if self.diagnosis:
            out.append(self.diagnosis)
        return out

    def summary(self) -> str:
        word = "ok" if self.ok else "FAILED"
        return (f"parity {word} on {self.device} (atol {self.atol:g}, rtol {self.rtol:g}): "
                f"max abs error {self.max_abs:.2e}")


def compare(name: str, expected: np.ndarray, actual: np.ndarray, atol: float, rtol: float) -> OutputParity:
    if expected.shape != actual.shape:
        return OutputParity(name, tuple(expected.shape), float("inf"), float("inf"), False,
                            f"shape {actual.shape} from onnxruntime, {expected.shape} from torch")
    if expected.dtype == bool or not np.issubdtype(expected.dtype, np.number):
        equal = bool(np.array_equal(expected, actual))
        return OutputParity(name, expected.shape, 0.0 if equal else 1.0, 0.0 if equal else 1.0, equal)
    exp = expected.astype(np.float64)
    act = actual.astype(np.float64)
    same = (exp == act) | (np.isnan(exp) & np.isnan(act))  # equal infs and NaNs agree
    with np.errstate(invalid="ignore"):
        diff = np.nan_to_num(np.where(same, 0.0, np.abs(exp - act)), nan=np.inf)
    max_abs = float(diff.max()) if diff.size else 0.0
    finite = np.abs(exp[np.isfinite(exp)])
    scale = float(finite.max()) if finite.size else 0.0
    ok = max_abs <= atol + rtol * scale
    return OutputParity(name, expected.shape, max_abs, max_abs / scale if scale else max_abs, ok)


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


def size_plans(symbols: dict[str, int]) -> list[dict[str, int]]:
    """The sizes parity runs at: the example's, then two others for every dynamic dim
    (``batch`` 1 and 3, or 2 for the example's own; any other dim one longer, then one
    shorter), duplicates dropped."""
    plans = [dict(symbols)]
    for k in range(2):
        plan = {symbol: _other_size(symbol, size, k) for symbol, size in symbols.items()}
        if plan not in plans:
            plans.append(plan)
    return plans


def _other_size(symbol: str, size: int, k: int) -> int:
    if symbol == "batch":  # 1 and 3, or 2 in place of the example's own size
        return [b for b in (1, 3, 2) if b != size][k]
    return size + 1 if k == 0 else max(1, size - 1)


def check(model: torch.nn.Module, runtime: Runtime, inputs: ModelInputs, output_names: Sequence[str],
          atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, seed: int = 0) -> ParityReport:
    """Run torch and onnxruntime on the same inputs at each size plan."""
    report = ParityReport(atol=atol, rtol=rtol, device=runtime.device)
    generator = torch.Generator().manual_seed(seed)
    example_sizes = inputs.symbols
    for sizes in size_plans(example_sizes):
        tensors = list(inputs.tensors) if sizes == example_sizes else inputs.resized(sizes, generator)
        expected = _torch_outputs_at(model, inputs, tensors, sizes, sizes == example_sizes)
        actual = runtime.run(dict(zip(runtime.input_names, (to_numpy(t) for t in tensors))))
        report.runs.append(ParityRun(sizes, [
            compare(name, e, a, atol, rtol) for name, e, a in zip(output_names, expected, actual)
        ], tensors))
    return report
