"""Benchmark: graphnn's int8 (--quantize dynamic) and float16 files against float32 and the
dynamo exporter's file + onnxruntime.quantization.quantize_dynamic, on a 4-layer BERT
(hidden 384, 6 heads, intermediate 1536, vocab 30522, seq 128, random weights).

For each file: size, onnxruntime CPU latency at 1 thread and all threads (interleaved
medians, batch 1), and the relative error ||onnx - torch|| / ||torch|| (the worst output) on
the benchmark inputs and a second batch. On demand, never in CI; needs onnxscript for the
dynamo file (the benchmark venv has it):
    PYTHONPATH=. /work/venv-bench/bin/python benchmarks/compress_bert.py [--quick] [--json out.json]
With onnxruntime-gpu on a GPU machine, ``--cuda`` adds the float32 and float16 files' latency on
CUDAExecutionProvider (batch 1 and 8; int8 MatMulInteger is a CPU format, not measured there).
Record `uptime` beside the numbers: latency is noisy on a loaded machine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import transformers

sys.path.insert(0, os.path.dirname(__file__))
from baselines import feeds_for, interleaved_medians, official_export, session  # noqa: E402

import graphnn  # noqa: E402
from graphnn.compress.measure import relative_error  # noqa: E402

DIMS = {name: {0: "batch", 1: "seq"} for name in ("input_ids", "attention_mask", "token_type_ids")}


def bert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=384, num_hidden_layers=4, num_attention_heads=6,
                                     intermediate_size=1536, attn_implementation="sdpa")
    return transformers.BertModel(config).eval()


def inputs(batch: int, seq: int = 128, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[-1, seq - 16:] = 0  # some padding
    return {"input_ids": torch.randint(0, 30522, (batch, seq), generator=generator), "attention_mask": mask,
            "token_type_ids": torch.zeros(batch, seq, dtype=torch.long)}


def dynamo_int8(model: onnx.ModelProto, folder: str) -> onnx.ModelProto:
    """What a user does today: the dynamo file through quantize_dynamic with its defaults."""
    from onnxruntime.quantization import quantize_dynamic
    source, out = os.path.join(folder, "dynamo.onnx"), os.path.join(folder, "dynamo_int8.onnx")
    onnx.save(model, source)
    quantize_dynamic(source, out)
    return onnx.load(out)


def files(model: torch.nn.Module, example: dict, folder: str, log) -> dict[str, onnx.ModelProto]:
    made = {}
    start = time.perf_counter()
    made["graphnn float32"] = graphnn.export(model, example, None, dynamic_dims=DIMS).onnx_model
    log(f"graphnn float32 in {time.perf_counter() - start:.1f}s")
    for name, kwargs in (("graphnn int8", {"quantize": "dynamic"}), ("graphnn float16", {"precision": "float16"})):
        start = time.perf_counter()
        result = graphnn.export(model, example, None, dynamic_dims=DIMS, **kwargs)
        made[name] = result.onnx_model
        log(f"{name} in {time.perf_counter() - start:.1f}s:\n  " + "\n  ".join(result.compression.lines()))
    start = time.perf_counter()
    made["dynamo float32"] = official_export(model, example, True, DIMS)
    made["dynamo + quantize_dynamic"] = dynamo_int8(made["dynamo float32"], folder)
    log(f"dynamo files in {time.perf_counter() - start:.1f}s")
    return made


def errors(model: torch.nn.Module, made: dict, batches: list[dict]) -> dict[str, float]:
    found = {}
    for name, proto in made.items():
        run = session(proto, 1)
        worst = 0.0
        for feed in batches:
            with torch.no_grad():
                expected = [t.numpy() for t in model(**feed).to_tuple()]
            actual = run.run(None, feeds_for(run, feed))
            worst = max(worst, *(relative_error(e, a) for e, a in zip(expected, actual)))
        found[name] = worst
    return found


def latencies(made: dict, example: dict, threads: int, runs: int) -> dict[str, float]:
    sessions = {name: session(proto, threads) for name, proto in made.items()}
    feeds = {name: feeds_for(s, example) for name, s in sessions.items()}
    return interleaved_medians({name: (lambda s=s, f=feeds[name]: s.run(None, f)) for name, s in sessions.items()},
                               runs=runs)


def cuda_latencies(made: dict, example: dict, runs: int) -> dict[str, float]:
    import onnxruntime as ort
    sessions = {}
    for name, proto in made.items():
        sessions[name] = ort.InferenceSession(proto.SerializeToString(), providers=[
            ("CUDAExecutionProvider", {"use_tf32": 0}), "CPUExecutionProvider"])
        assert sessions[name].get_providers()[0] == "CUDAExecutionProvider", "onnxruntime fell back to CPU"
    feeds = {name: feeds_for(s, example) for name, s in sessions.items()}
    return interleaved_medians({name: (lambda s=s, f=feeds[name]: s.run(None, f)) for name, s in sessions.items()},
                               runs=runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 timed runs instead of 40")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--cuda", action="store_true", help="also float32 / float16 latency on CUDA")
    args = parser.parse_args()
    runs = 10 if args.quick else 40
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    model, example = bert(), inputs(1)
    with tempfile.TemporaryDirectory() as folder:
        made = files(model, example, folder, log)
        error = errors(model, made, [example, inputs(2, seed=1)])
        one = latencies(made, example, 1, runs)
        every = latencies(made, example, 0, runs)
    base = "graphnn float32"
    print(f"| file | size MB | 1 thread ms | vs {base} | all threads ({os.cpu_count()}) ms | vs {base} | "
          f"relative error |\n|---|---|---|---|---|---|---|")
    for name, proto in made.items():
        print(f"| {name} | {proto.ByteSize() / 1e6:.1f} | {one[name]:.2f} | {one[name] / one[base]:.2f}x | "
              f"{every[name]:.2f} | {every[name] / every[base]:.2f}x | {error[name]:.1e} |")
    if args.cuda:
        cuda = {n: p for n, p in made.items() if "int8" not in n and "quantize" not in n}
        for batch in (1, 8):
            times = cuda_latencies(cuda, inputs(batch), runs * 5)
            print(f"\nCUDA, batch {batch}: " + ", ".join(f"{n} {t:.2f} ms" for n, t in times.items()))
    print(f"\nload: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"size": {n: p.ByteSize() for n, p in made.items()}, "latency_1_thread_ms": one,
                       "latency_all_threads_ms": every, "relative_error": error, "load": os.getloadavg()}, out, indent=1)


if __name__ == "__main__":
    main()
