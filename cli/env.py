"""``graphnn env``: the versions and devices graphnn runs with, for bug reports.

Each line comes from one probe in ``PROBES``; a probe that fails says why on its line
instead of hiding the others, since a broken install is what a bug report is about.
"""
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata

import click

import graphnn


def _graphnn() -> str:
    return f"{graphnn.__version__} ({os.path.dirname(os.path.abspath(graphnn.__file__))})"


def _python() -> str:
    return f"{platform.python_version()} ({sys.executable})"


def _platform() -> str:
    return platform.platform()


def _torch() -> str:
    import torch

    cuda = torch.version.cuda
    return torch.__version__ + (f" (built with CUDA {cuda})" if cuda else " (CPU build)")


def _onnx() -> str:
    import onnx

    return f"{onnx.__version__} (opsets up to {onnx.defs.onnx_opset_version()})"


def _onnxruntime() -> str:
    import onnxruntime as ort

    return f"{ort.__version__} ({_distribution_of('onnxruntime')})"


def _distribution_of(package: str) -> str:
    """The pip distribution that installed a package: onnxruntime-gpu and onnxruntime both
    install ``onnxruntime``, and which one it is decides whether CUDA can work."""
    names = metadata.packages_distributions().get(package, [])
    return ", ".join(sorted(set(names))) or "not installed by pip"


def _providers() -> str:
    import onnxruntime as ort

    return ", ".join(ort.get_available_providers())


def _cuda() -> str:
    """Usable only if onnxruntime really starts its CUDA provider on a probe model."""
    from graphnn.checking.runtime import create_runtime
    from graphnn.onnxfile.probe import probe_model

    runtime = create_runtime(probe_model().SerializeToString(), device="auto")
    if runtime.device == "cuda":
        from graphnn.checking.runtime import cuda_gpu_count

        return f"usable ({cuda_gpu_count()[0]} GPU(s))"
    return f"not usable: {runtime.note.removeprefix('running on CPU: ')}"


def _opsets() -> str:
    from graphnn.backend.onnx.opsets import DEFAULT_OPSET, MIN_OPSET, max_opset

    return f"{MIN_OPSET}..{max_opset()} (the newest onnxruntime runs; default {DEFAULT_OPSET})"


def _dot() -> str:
    dot = shutil.which("dot")
    if dot is None:
        return "not found (graphnn graph --dot output cannot be rendered here)"
    proc = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=30)
    found = re.search(r"version\s+(\S+)", proc.stderr + proc.stdout)
    return f"{found.group(1) if found else 'unknown version'} ({dot})"


PROBES = {
    "graphnn": _graphnn,
    "python": _python,
    "platform": _platform,
    "torch": _torch,
    "onnx": _onnx,
    "onnxruntime": _onnxruntime,
    "providers": _providers,
    "cuda": _cuda,
    "opsets": _opsets,
    "dot": _dot,
}


def collect() -> dict:
    """Every probe's answer; a probe that raises reports the error as its answer."""
    report = {}
    for name, probe in PROBES.items():
        try:
            report[name] = probe()
        except Exception as exc:  # noqa: BLE001 - a broken dependency is the thing to report
            report[name] = f"error: {type(exc).__name__}: {exc}"
    return report


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of aligned lines.")
def env(as_json):
    """Print graphnn's environment: versions, execution providers, CUDA, opsets, Graphviz.

    \b
    Paste its output into a bug report:
      graphnn env
    """
    report = collect()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    width = max(map(len, report))
    for name, value in report.items():
        click.echo(f"{name + ':':<{width + 1}} {value}")
