"""Benchmark: onnxruntime latency of graphnn's files for sequence and attention layers,
against torch.onnx.export(dynamo=True) on the same models (and dynamo=False where it runs).

Run on demand (not part of the tests; needs `pip install onnxscript` for the dynamo exporter):
    python benchmarks/sequence_models.py [--runs 50] [--threads 2]

Per model it prints both files' median latency over interleaved runs, the ratio (graphnn /
official: below 1.00 is faster), both files' outputs compared, and the ONNX op histogram
where it says something (Loop / Scan / If chains, per-step MatMuls).
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import graphnn  # noqa: E402
import graphnn.inputs  # noqa: E402
from baselines import compare_files, feeds_for, max_abs_diff, official_export, op_histogram  # noqa: E402


class Bag(nn.Module):
    """EmbeddingBag on 1-D ids with offsets, as in text classification."""

    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(10000, 64, mode="mean")

    def forward(self, ids, offsets):
        return self.bag(ids, offsets)


def models() -> dict:
    """name -> (model, inputs, dynamic dims)"""
    torch.manual_seed(0)
    seq = {0: "batch", 1: "seq"}
    bag_ids = torch.randint(0, 10000, (400,))
    bag_offsets = torch.arange(0, 400, 25)
    return {
        "nn.RNN 2x128, batch 1 x 200 steps": (nn.RNN(64, 128, num_layers=2, batch_first=True),
                                             (torch.randn(1, 200, 64),), [seq]),
        "nn.RNN 2x128, batch 8 x 50 steps": (nn.RNN(64, 128, num_layers=2, batch_first=True),
                                            (torch.randn(8, 50, 64),), [seq]),
        "nn.LSTM 2x128 bidirectional": (nn.LSTM(64, 128, num_layers=2, batch_first=True, bidirectional=True),
                                        (torch.randn(8, 50, 64),), [seq]),
        "nn.GRU 2x128, batch 8 x 50 steps": (nn.GRU(64, 128, num_layers=2, batch_first=True),
                                            (torch.randn(8, 50, 64),), [seq]),
        "nn.EmbeddingBag mean, offsets": (Bag(), (bag_ids, bag_offsets), [{0: "tokens"}, {0: "bags"}]),
        "nn.TransformerEncoder 6x128": (
            nn.TransformerEncoder(nn.TransformerEncoderLayer(128, 4, 256, batch_first=True), 6,
                                  enable_nested_tensor=False),
            (torch.randn(8, 50, 128),), [seq]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    parser.add_argument("--only", default="", help="comma-separated substrings of model names")
    args = parser.parse_args()
    print(f"{'model':36} {'graphnn ms':>10} {'dynamo ms':>10} {'ratio':>6} {'max diff':>9} {'dynamo, seq+1':>13}  "
          f"ops (graphnn | dynamo)")
    for name, (model, inputs, dims) in models().items():
        if args.only and not any(s in name for s in args.only.split(",")):
            continue
        model.eval()
        ours = graphnn.export(model, inputs, dynamic_dims=dims).onnx_model
        theirs = official_export(model, inputs, dynamo=True, dynamic_dims=dims)
        medians, outs, sessions = compare_files({"graphnn": ours, "dynamo": theirs}, inputs, args.threads, args.runs)
        diff = max_abs_diff(outs["graphnn"][:1], outs["dynamo"][:1])
        longer = [t if not any(v != "batch" for v in d.values()) else
                  graphnn.inputs.like(t, [n + 1 if d.get(i, "batch") != "batch" else n for i, n in enumerate(t.shape)],
                                      torch.Generator().manual_seed(0)) for t, d in zip(inputs, dims)]
        try:
            sessions["dynamo"].run(None, feeds_for(sessions["dynamo"], longer))
            other_length = "ok"
        except Exception:  # the official file fixed the sequence length
            other_length = "fails"
        hist = lambda m: ",".join(f"{op}:{n}" for op, n in sorted(op_histogram(m).items(), key=lambda kv: -kv[1])[:6])  # noqa: E731
        print(f"{name:36} {medians['graphnn']:10.3f} {medians['dynamo']:10.3f} "
              f"{medians['graphnn'] / medians['dynamo']:6.2f} {diff:9.1e} {other_length:>13}  {hist(ours)} | {hist(theirs)}")


if __name__ == "__main__":
    main()
