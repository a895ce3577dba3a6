"""Benchmark: graphnn export of every fixture, against torch.onnx.export as a baseline.

Run on demand (not part of the tests):  python benchmarks/export_fixtures.py [--repeat 3]

For each fixture it prints graphnn's trace+passes+lower time, its ONNX node count, and the same
for torch.onnx.export (the TorchScript exporter, dynamo=False) when that baseline runs here.
torch.onnx.export appears only in this file: it is never part of graphnn's export path.
"""
from __future__ import annotations

import argparse
import glob
import io
import os
import sys
import warnings

import onnx
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import graphnn  # noqa: E402
from graphnn.loader import load_model_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import best_of  # noqa: E402


def graphnn_export(model, inputs, dynamic_dims=None):
    return graphnn.export(model, inputs, dynamic_dims=dynamic_dims, check=False).onnx_model


def torch_export(model, inputs):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), tuple(inputs), buffer, opset_version=18, dynamo=False)
    return onnx.load_from_string(buffer.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'fixture':32} {'graphnn ms':>10} {'nodes':>5}   {'torch.onnx ms':>13} {'nodes':>5}")
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.py"))):
        loaded = load_model_file(path)
        seconds, model = best_of(args.repeat, lambda: graphnn_export(loaded.model, loaded.example_inputs, loaded.dynamic_dims))
        try:
            base_seconds, base = best_of(args.repeat, lambda: torch_export(loaded.model, loaded.example_inputs))
            baseline = f"{base_seconds * 1000:13.1f} {len(base.graph.node):5d}"
        except Exception as exc:  # the baseline may be unavailable (e.g. needs onnxscript)
            baseline = f"{'n/a':>13} ({type(exc).__name__})"
        print(f"{os.path.basename(path):32} {seconds * 1000:10.1f} {len(model.graph.node):5d}   {baseline}")


if __name__ == "__main__":
    main()
