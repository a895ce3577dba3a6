"""Benchmark: the torch.export frontend against torch.onnx.export(dynamo=True), which also
starts from torch.export, on the models fx cannot trace: the Hugging Face zoo of the tests
(BERT, GPT-2, T5 encoder, ViT, Llama, Whisper encoder; small configs, random weights) and
the tricky-models fixtures.

Run on demand (needs transformers, from the test extra, and onnxscript for the baseline):
    python benchmarks/export_frontend.py [--runs 50] [--only bert,gpt2]

Per model: export time of each (best of --repeat, after one warm-up export), the ratio
(graphnn / dynamo: the target is at most 0.5), onnxruntime median latency of both files over
interleaved runs and their ratio (target at most 1.0), and the two files' outputs compared.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import graphnn  # noqa: E402
from baselines import best_of, compare_files, max_abs_diff, official_export  # noqa: E402
from graphnn.loader import load_model_file  # noqa: E402


def models() -> dict:
    """name -> (model, inputs, dynamic dims)"""
    from tests.transformer_zoo import ZOO
    found = {name: build() for name, build in ZOO.items()}
    tricky = os.path.join(ROOT, "fixtures", "tricky_models.py")
    for name in ("ChunkLoop", "PositionSlice", "SliceAssign", "ShapeUnpack"):
        try:
            loaded = load_model_file(tricky, name)
            found[f"tricky:{name}"] = (loaded.model, loaded.example_inputs, loaded.dynamic_dims)
        except Exception:  # the fixture file names its models; skip names it does not have
            continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    print(f"{'model':20} {'graphnn s':>9} {'dynamo s':>9} {'ratio':>6}   {'graphnn ms':>10} {'dynamo ms':>10} "
          f"{'ratio':>6} {'max diff':>9}")
    for name, (model, inputs, dims) in models().items():
        if args.only and not any(s in name for s in args.only.split(",")):
            continue
        ours_s, ours = best_of(args.repeat, warm=True, fn=lambda: graphnn.export(
            model, inputs, dynamic_dims=dims, frontend="export", check=False).onnx_model)
        theirs_s, theirs = best_of(args.repeat, warm=True, fn=lambda: official_export(model, inputs, True, dims))
        medians, outs, _ = compare_files({"graphnn": ours, "dynamo": theirs}, inputs, args.threads, args.runs)
        diff = max_abs_diff(outs["graphnn"][:1], outs["dynamo"][:1])
        print(f"{name:20} {ours_s:9.3f} {theirs_s:9.3f} {ours_s / theirs_s:6.2f}   {medians['graphnn']:10.3f} "
              f"{medians['dynamo']:10.3f} {medians['graphnn'] / medians['dynamo']:6.2f} {diff:9.1e}", flush=True)


if __name__ == "__main__":
    with torch.no_grad():
        main()
