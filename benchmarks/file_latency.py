"""Benchmark: how fast onnxruntime runs graphnn's file against the official exporters' files.

For each model, with default-init and with trained-like weights (non-zero BatchNorm
statistics and biases: default init hides costs such as all-zero biases), three files are
built with a dynamic batch: graphnn's, torch.onnx.export(dynamo=False) and (dynamo=True).
Each is checked against torch on the device, then all three run interleaved on one set of
inputs (medians), and onnxruntime's profiler attributes kernel time to op types, which is
where a lost fusion shows (Erf + Mul + Add instead of BiasGelu, an extra Add per Conv).

On demand, never in CI. torchvision models need the benchmark venv
(pip install torch==2.14.1 torchvision==0.29.1 onnxscript && pip install -e .);
the transformer layer runs anywhere onnxscript is installed. For CUDA, on a lent GPU machine
with onnxruntime-gpu (../shared/gpu/README.md), TF32 off on both sides:
    python benchmarks/file_latency.py --device cuda --batch 8 --runs 60
    python benchmarks/file_latency.py --device cpu --models resnet50,transformer --runs 30
Writes a markdown table to stdout and, with --json FILE, every number.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from baselines import interleaved_medians, max_abs_diff, official_export  # noqa: E402

import graphnn  # noqa: E402

EXPORTERS = ("graphnn", "torchscript", "dynamo")
DEFAULT_MODELS = "resnet50,mobilenet_v3_small,convnext_tiny,transformer"


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    if name == "transformer":
        layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True, activation="gelu")
        return nn.TransformerEncoder(layer, 4, enable_nested_tensor=False), torch.randn(2, 128, 256)
    import torchvision
    return torchvision.models.get_model(name, weights=None), torch.randn(2, 3, 224, 224)  # batch 2: torch.export specializes a batch of 1


def make_trained_like(model: nn.Module) -> nn.Module:
    """Non-zero BN statistics and biases, as after training (seeded, so runs agree)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                module.running_mean.uniform_(-0.2, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
            bias = getattr(module, "bias", None)
            if isinstance(bias, torch.Tensor) and bias.dtype.is_floating_point:
                bias.uniform_(-0.1, 0.1, generator=generator)
    return model


def export_all(model: nn.Module, example: torch.Tensor, opset: int, folder: str) -> dict[str, str]:
    paths = {}
    for exporter in EXPORTERS:
        path = os.path.join(folder, f"{exporter}.onnx")
        if exporter == "graphnn":
            graphnn.export(model, (example,), path, opset=opset, check=False)
        else:
            onnx.save(official_export(model, (example,), dynamo=exporter == "dynamo", opset=opset), path)
        paths[exporter] = path
    return paths


def providers(device: str) -> list:
    if device == "cuda":  # TF32 off, as torch's side below: parity and speed compare like with like
        return [("CUDAExecutionProvider", {"use_tf32": 0}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def session(path: str, device: str, profile_prefix: str = "") -> ort.InferenceSession:
    options = ort.SessionOptions()
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(path, options, providers=providers(device))


def kernel_ms_by_op_type(path: str, device: str, feeds: dict, runs: int, folder: str) -> dict[str, float]:
    """Mean kernel milliseconds per run by ONNX op type, from onnxruntime's profiler."""
    sess = session(path, device, os.path.join(folder, "profile"))
    sess.run(None, feeds)  # warm-up, excluded below by counting only the last `runs`
    for _ in range(runs):
        sess.run(None, feeds)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    totals: dict[str, float] = collections.defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            totals[event["args"].get("op_name", "?")] += event["dur"] / 1000.0
    return {op: ms / (runs + 1) for op, ms in sorted(totals.items(), key=lambda kv: -kv[1])}


def measure(name: str, weights: str, args) -> dict:
    torch.manual_seed(0)
    model, example = build(name)
    model = model.eval()
    if weights == "trained-like":
        make_trained_like(model)
    inputs = torch.randn(args.batch, *example.shape[1:])
    with tempfile.TemporaryDirectory() as folder:
        paths = export_all(model, example, args.opset, folder)
        feeds = {}
        with torch.no_grad():
            expected = model.to(args.device)(inputs.to(args.device)).float().cpu().numpy()
        model.cpu()
        sessions = {exporter: session(path, args.device) for exporter, path in paths.items()}
        for exporter, sess in sessions.items():
            feeds[exporter] = {sess.get_inputs()[0].name: inputs.numpy()}
        errors = {e: max_abs_diff(s.run(None, feeds[e])[:1], [expected]) for e, s in sessions.items()}
        medians = interleaved_medians({e: (lambda s=s, f=feeds[e]: s.run(None, f)) for e, s in sessions.items()},
                                      runs=args.runs)
        kernels = {e: kernel_ms_by_op_type(p, args.device, feeds[e], min(args.runs, 20), folder)
                   for e, p in paths.items()} if args.profile else {}
        nodes = {e: len(onnx.load(p, load_external_data=False).graph.node) for e, p in paths.items()}
    return {"model": name, "weights": weights, "batch": args.batch, "device": args.device,
            "median_ms": medians, "max_abs_error": errors, "nodes": nodes, "kernel_ms_by_op_type": kernels}


def markdown(rows: list[dict]) -> str:
    lines = ["| model | weights | graphnn ms | TorchScript ms | dynamo ms | graphnn / fastest official | "
             "max abs error (graphnn) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["median_ms"]
        ratio = m["graphnn"] / min(m["torchscript"], m["dynamo"])
        lines.append(f"| {r['model']} | {r['weights']} | {m['graphnn']:.2f} | {m['torchscript']:.2f} | "
                     f"{m['dynamo']:.2f} | {ratio:.2f} | {r['max_abs_error']['graphnn']:.1e} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated [default: {DEFAULT_MODELS}]")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=30, help="interleaved timed runs per file")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--weights", default="default,trained-like")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the per-op-type kernel time")
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args()
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    rows = []
    for name in args.models.split(","):
        for weights in args.weights.split(","):
            rows.append(measure(name, weights, args))
            m = rows[-1]["median_ms"]
            print(f"{name} ({weights}): " + ", ".join(f"{e} {ms:.2f} ms" for e, ms in m.items()), file=sys.stderr)
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, device {args.device}, batch {args.batch}, "
          f"opset {args.opset}, medians of {args.runs} interleaved runs\n")
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
