"""onnxruntime sessions on CPU or CUDA.

Two traps handled here: onnxruntime-gpu silently falls back to CPU when CUDA cannot
be used, so after creating a session we check ``session.get_providers()``; and its
CUDA provider enables TF32 by default, which breaks fp32 parity, so we turn it off.
``--device auto`` uses CUDA when a driver and GPU are present, else CPU with a note.
A dtype the provider has no kernel for (float64 Conv on CPU), or that the Python API cannot
exchange (bfloat16), is refused naming the layer (``graphnn.onnxfile.kernels``), not a traceback.
"""
from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import onnx
import onnxruntime as ort

from graphnn.checking.refusal import load_refusal
from graphnn.errors import DeviceError, UnsupportedError
from graphnn.onnxfile.kernels import kernel_missing, unfeedable
from graphnn.onnxfile.schemas import ADVICE

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DEVICES = ("cpu", "cuda", "auto")
CUDA_OPTIONS = {"use_tf32": "0"}


@functools.lru_cache(maxsize=None)
def cuda_gpu_count() -> tuple[int, str]:
    """(number of CUDA GPUs the driver sees, reason when 0), asked of libcuda directly."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0, "no NVIDIA driver (libcuda.so.1) on this machine"
    if libcuda.cuInit(0) != 0:
        return 0, "the NVIDIA driver found no usable GPU (cuInit failed)"
    count = ctypes.c_int(0)
    if libcuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return 0, "the NVIDIA driver reports no GPU"
    return count.value, ""


@dataclass(frozen=True)
class ProviderPlan:
    providers: list
    note: str = ""  # said to the user when auto picked CPU

    @property
    def wants_cuda(self) -> bool:
        return any(p[0] == CUDA for p in self.providers)


def plan_providers(device: str, available: Sequence[str], gpus: int, why_no_gpu: str = "") -> ProviderPlan:
    """Which execution providers to ask for; pure, so it is tested without a GPU."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    cuda_plan = ProviderPlan([(CUDA, dict(CUDA_OPTIONS)), (CPU, {})])
    if device == "cpu":
        return ProviderPlan([(CPU, {})])
    if CUDA not in available:
        reason = "this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
    elif gpus == 0:
        reason = why_no_gpu or "no CUDA GPU found"
    else:
        return cuda_plan
    if device == "cuda":
        raise DeviceError(f"--device cuda cannot be used: {reason}; use --device cpu or auto")
    return ProviderPlan([(CPU, {})], note=f"running on CPU: {reason}")


@dataclass
class Runtime:
    """An onnxruntime session and the device it really runs on."""

    session: ort.InferenceSession
    device: str
    note: str = ""

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def run(self, feeds: dict) -> list[np.ndarray]:
        return self.session.run(None, feeds)


def create_runtime(model: Union[bytes, str], device: str = "cpu") -> Runtime:
    """A session for serialized model bytes, or a model file (with its external data)."""
    gpus, why = cuda_gpu_count() if device != "cpu" else (0, "")
    plan = plan_providers(device, ort.get_available_providers(), gpus, why)
    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: a refusal is raised with its message, said once
    session = _session(model, options, plan)
    used = session.get_providers()
    if plan.wants_cuda and CUDA not in used:
        if device == "cuda":
            raise DeviceError("--device cuda: onnxruntime fell back to CPU (CUDA libraries missing?); "
                              "use --device cpu or auto")
        return Runtime(session, "cpu", "running on CPU: onnxruntime could not start its CUDA provider")
    return Runtime(session, "cuda" if CUDA in used else "cpu", plan.note)


def _session(model: Union[bytes, str], options: ort.SessionOptions, plan: ProviderPlan) -> ort.InferenceSession:
    """The session; a missing kernel, a file refused at load or an unexchangeable dtype as one
    line naming the layer."""
    provider = "CUDA provider" if plan.wants_cuda else "CPU provider"
    try:
        session = ort.InferenceSession(model, options, providers=plan.providers)
    except Exception as exc:  # onnxruntime raises its own pybind classes
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        proto = _proto(model)
        missing = kernel_missing(str(exc), proto, provider)
        if missing is not None:
            raise missing from None
        if isinstance(model, bytes):
            raise load_refusal(str(exc), proto, lambda cut: _loads(cut, options, plan), provider,
                               "the exported model") from None
        # a file's prefixes would lack its external weights: only a node onnxruntime names is named
        raise load_refusal(str(exc), proto, None, provider, model) from None
    types = [t.type for t in (*session.get_inputs(), *session.get_outputs())]
    if unfeedable(types):
        raise UnsupportedError(f"onnxruntime's Python API cannot exchange {unfeedable(types)} arrays, so "
                               f"this model cannot be run or checked here; {ADVICE}")
    return session


def _loads(model: bytes, options: ort.SessionOptions, plan: ProviderPlan) -> bool:
    """Whether onnxruntime loads ``model`` (a prefix of a refused one)."""
    try:
        ort.InferenceSession(model, options, providers=plan.providers)
    except Exception:  # any refusal: the prefix search only asks whether it loads
        return False
    return True


def _proto(model: Union[bytes, str]):
    """The ModelProto of what a session was given, without its external weights."""
    try:
        return onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model, load_external_data=False)
    except Exception:  # unreadable: the message names the node only
        return None


def describe_devices() -> str:
    """One line for --help / errors: what this machine can run on."""
    gpus, why = cuda_gpu_count()
    cuda = f"{gpus} CUDA GPU(s)" if gpus else f"no CUDA ({why})"
    return f"onnxruntime {ort.__version__}: CPU, {cuda}"

