"""Benchmark (issue 21): latency and size of graphnn's optimized files against the dynamo
exporter's file and what onnxruntime's own tools make of it, on CPU, one thread and all.

Per model, the files: graphnn float32 (``--target onnx``), graphnn ``--target ort-cpu``
(fused MultiHeadAttention), graphnn int8 (``quantize="dynamic"``; for BERT also float16), the
dynamo exporter's file, that file after ``onnxruntime.transformers.optimizer.optimize_model``
and after ``onnxruntime.quantization.quantize_dynamic``; and torch eager. All run interleaved
on one set of inputs (medians, ``baselines.interleaved_medians``); each file's largest
difference from torch on those inputs is reported beside its latency, and its relative error
``||file - torch|| / ||torch||`` in a second table (graphnn's int8 report uses the same measure).
``--profile`` adds onnxruntime's kernel time by op type for graphnn's ort-cpu, fp32 and int8
files and the dynamo file (where a missed target's time goes).

The dynamo Llama decode file comes from a wrapper with a flat past (``FlatCache``), as in
benchmarks/decode_speed.py; quantize_dynamic runs after onnxruntime's ``quant_pre_process``.

Models: a 4-layer BERT (hidden 384, 6 heads, seq 128), a ~19M-parameter Llama (hidden 384,
8 layers, 6 heads over 2 key/value heads; prefill of 128 tokens, and a 2-token decoding step
over a 126-token cache), ResNet-50 and MobileNetV3-Large; batch 1, random weights.

Run in the benchmark venv (torchvision, onnxscript):
    PYTHONPATH=. /work/venv-bench/bin/python benchmarks/optimized_latency.py            # full
    PYTHONPATH=. /work/venv-bench/bin/python benchmarks/optimized_latency.py --quick    # fewer runs
    ... --models bert,llama --profile --json out.json
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(__file__))
from baselines import interleaved_medians, max_abs_diff, official_export  # noqa: E402

import graphnn  # noqa: E402
from graphnn.compress.measure import relative_error  # noqa: E402
from graphnn.errors import GraphnnError  # noqa: E402

COLUMNS = ("graphnn fp32", "graphnn ort-cpu", "graphnn int8", "dynamo", "dynamo + ort optimizer",
           "dynamo + quantize_dynamic", "torch eager")
# graphnn's files: column -> graphnn.export options; "graphnn fp16" only for the models named here
GRAPHNN = {"graphnn fp32": {}, "graphnn ort-cpu": {"target": "ort-cpu"}, "graphnn int8": {"quantize": "dynamic"},
           "graphnn fp16": {"precision": "float16"}}
FLOAT16_MODELS = {"bert"}
PROFILED = ("graphnn ort-cpu", "graphnn fp32", "graphnn int8", "dynamo")  # --profile's files
HEADS = {"bert": (6, 384), "llama": (6, 384)}  # optimize_model's num_heads, hidden_size


# ------------------------------------------------------------------ models
def bert():
    from transformers import BertConfig, BertModel
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=4, num_attention_heads=6,
                        intermediate_size=1536)
    ids = torch.randint(0, 30522, (1, 128))
    return BertModel(config).eval(), {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _llama(use_cache: bool):
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(vocab_size=8000, hidden_size=384, intermediate_size=1024, num_hidden_layers=8,
                         num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512,
                         use_cache=use_cache)
    return LlamaForCausalLM(config).eval()


def llama():
    ids = torch.randint(0, 8000, (1, 128))
    return _llama(False), {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def llama_decode():
    """A decoding step over the cache: 2 new tokens after 126 (torch.export specialises a
    length of 1, so the example step has 2; the file is the one every step runs)."""
    from transformers import DynamicCache
    model = _llama(True)
    past = DynamicCache(ddp_cache_data=[(torch.randn(1, 2, 126, 64), torch.randn(1, 2, 126, 64))
                                        for _ in range(8)])
    return model, {"input_ids": torch.randint(0, 8000, (1, 2)), "attention_mask": torch.ones(1, 128, dtype=torch.long),
                   "past_key_values": past}


def torchvision_model(name):
    def make():
        import torchvision
        return torchvision.models.get_model(name, weights=None).eval(), (torch.randn(1, 3, 224, 224),)
    return make


MODELS = {"bert": bert, "llama": llama, "llama_decode": llama_decode,
          "resnet50": torchvision_model("resnet50"), "mobilenet_v3_large": torchvision_model("mobilenet_v3_large")}


# ------------------------------------------------------------------- files
def graphnn_files(model, inputs_fn, name: str, folder: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """graphnn's files (each parity-checked by export; int8 and float16 within graphnn's
    tolerance against torch, or its layers kept float32), and each conversion's report lines;
    a failure is its column's note. ``inputs_fn()``: the example inputs afresh (a cache is
    consumed by running the model)."""
    files, reports = {}, {}
    for column, options in GRAPHNN.items():
        if column == "graphnn fp16" and name not in FLOAT16_MODELS:
            continue
        path = os.path.join(folder, column.replace(" ", "_") + ".onnx")
        try:
            result = graphnn.export(model, inputs_fn(), path, **options)
        except GraphnnError as exc:
            files[column] = f"failed: {str(exc)[:160]}"
            continue
        files[column] = path if result.ok else f"failed parity: {result.report}"
        if result.compression is not None:
            reports[column] = result.compression.lines()
            print(f"  {column}:\n    " + "\n    ".join(reports[column]), file=sys.stderr)
    return files, reports


def dynamo_files(model, inputs, name: str, folder: str, notes: list) -> dict[str, str]:
    """The dynamo exporter's file, and it after onnxruntime's optimizer and its quantizer
    (``notes``: what the quantizer's preparation had to do)."""
    path = os.path.join(folder, "dynamo.onnx")
    try:
        if name == "llama_decode":
            dynamo_with_past(model, inputs, path)
        else:
            onnx.save(official_export(model, inputs if isinstance(inputs, dict) else tuple(inputs), dynamo=True), path)
    except Exception as exc:  # noqa: BLE001 - a baseline that cannot export is a table entry
        reason = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        return {c: reason for c in ("dynamo", "dynamo + ort optimizer", "dynamo + quantize_dynamic")}
    files = {"dynamo": path}
    files["dynamo + ort optimizer"] = _try(lambda: _ort_optimized(path, name, folder))
    files["dynamo + quantize_dynamic"] = _try(lambda: _quantized(path, folder, notes))
    return files


class FlatCache(torch.nn.Module):
    """The decoding model with a flat past (per layer key, value) for the dynamo exporter, which
    cannot take a DynamicCache as an input: ids, mask and past in, logits and present out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, past):
        from transformers import DynamicCache
        cache = DynamicCache(ddp_cache_data=list(zip(past[0::2], past[1::2])))
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True)
        return out.logits, [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]


def dynamo_with_past(model, inputs, path: str) -> None:
    """The dynamo decode file as benchmarks/decode_speed.py makes it: Dim.DYNAMIC everywhere
    (torch derives total = past + new itself), inputs named as graphnn's file names them."""
    past = [t for layer in inputs["past_key_values"].layers for t in (layer.keys, layer.values)]
    dynamic = torch.export.Dim.DYNAMIC
    shapes = ({0: dynamic, 1: dynamic}, {0: dynamic, 1: dynamic}, [{0: dynamic, 2: dynamic}] * len(past))
    names = ["input_ids", "attention_mask"] + [f"past_key_values.{i // 2}.{'key' if i % 2 == 0 else 'value'}"
                                               for i in range(len(past))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(FlatCache(model).eval(), (inputs["input_ids"], inputs["attention_mask"], past),
                                    None, dynamo=True, dynamic_shapes=shapes, input_names=names,
                                    output_names=["logits"] + [n.replace("past_key_values.", "present.")
                                                               for n in names[2:]], optimize=True, verbose=False)
    program.save(path)


def _ort_optimized(path: str, name: str, folder: str) -> str:
    from onnxruntime.transformers.optimizer import optimize_model
    heads, hidden = HEADS.get(name.split("_")[0], (0, 0))
    model_type = {"bert": "bert", "llama": "gpt2"}.get(name.split("_")[0], "bert")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimized = optimize_model(path, model_type=model_type, num_heads=heads, hidden_size=hidden)
    out = os.path.join(folder, "dynamo_ort_optimized.onnx")
    optimized.save_model_to_file(out)
    fused = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
    print(f"  ort optimizer on the dynamo file: {fused}", file=sys.stderr)
    return out


def _quantized(path: str, folder: str, notes: list) -> str:
    """quantize_dynamic after quant_pre_process (shape inference and onnxruntime's graph
    optimizations), as onnxruntime's documentation asks; without it the CNN files stop in ONNX
    shape inference. Where its symbolic shape inference fails, it runs again without (its
    ``skip_symbolic_shape``) and ``notes`` says so."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    prepared, out = os.path.join(folder, "dynamo_prepared.onnx"), os.path.join(folder, "dynamo_int8.onnx")
    try:
        with contextlib.chdir(folder):  # its failure leaves sym_shape_infer_temp.onnx (+ .data) in the cwd
            quant_pre_process(path, prepared)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own documented way round: skip the symbolic pass
        notes.append(f"quant_pre_process: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}; "
                     "rerun with skip_symbolic_shape=True")
        quant_pre_process(path, prepared, skip_symbolic_shape=True)
    quantize_dynamic(prepared, out, weight_type=QuantType.QInt8)
    return out


def _try(make) -> str:
    try:
        return make()
    except Exception as exc:  # noqa: BLE001
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


# ----------------------------------------------------------------- measure
def flat_inputs(inputs) -> dict[str, np.ndarray]:
    """Feeds by the names both exporters give: input names, past_key_values.{i}.key/value."""
    if not isinstance(inputs, dict):
        return {f"input_{i}": t.numpy() for i, t in enumerate(inputs)}
    feeds = {}
    for name, value in inputs.items():
        if isinstance(value, torch.Tensor):
            feeds[name] = value.numpy()
        else:  # a cache
            for i, layer in enumerate(value.layers):
                feeds[f"past_key_values.{i}.key"] = layer.keys.numpy()
                feeds[f"past_key_values.{i}.value"] = layer.values.numpy()
    return feeds


def session(path: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds_for(sess: ort.InferenceSession, feeds: dict) -> dict:
    """By name; a file whose names differ (the dynamo file's positional ones) by position."""
    names = [i.name for i in sess.get_inputs()]
    if all(n in feeds for n in names):
        return {n: feeds[n] for n in names}
    return dict(zip(names, feeds.values()))


def torch_reference(model, inputs) -> np.ndarray:
    with torch.inference_mode():
        out = model(**inputs) if isinstance(inputs, dict) else model(*inputs)
    first = out[0] if isinstance(out, (tuple, list)) else getattr(out, "logits", None)
    if first is None:
        first = out.last_hidden_state if hasattr(out, "last_hidden_state") else out
    return first.numpy()


def measure(name: str, threads: int, files: dict, model, inputs, runs: int) -> dict:
    """Median ms, MB, max |file - torch| and ||file - torch|| / ||torch|| (first output) per
    column at ``threads``."""
    torch.set_num_threads(threads or os.cpu_count())
    feeds = flat_inputs(inputs)
    reference = torch_reference(model, _fresh(name, inputs))
    runners, row = {}, {}
    for column, path in files.items():
        if not path.endswith(".onnx"):
            row[column] = {"note": path}
            continue
        sess = session(path, threads)
        f = feeds_for(sess, feeds)
        first = sess.run(None, f)[0]
        error, rel = max_abs_diff([first], [reference]), relative_error(reference, first)
        runners[column] = lambda s=sess, f=f: s.run(None, f)
        size = os.path.getsize(path) + sum(os.path.getsize(os.path.join(os.path.dirname(path), i.external_data[0].value))
                                           for i in onnx.load(path, load_external_data=False).graph.initializer
                                           if i.external_data)
        row[column] = {"mb": size / 2 ** 20, "error": error, "rel": rel}

    def eager():
        with torch.inference_mode():
            return model(**_fresh(name, inputs)) if isinstance(inputs, dict) else model(*inputs)
    runners["torch eager"] = eager
    row["torch eager"] = {}
    for column, ms in interleaved_medians(runners, runs=runs, warmup=3).items():
        row[column]["ms"] = ms
    return row


def _fresh(name: str, inputs):
    """A new cache per call: transformers' cache grows in place when the model runs."""
    if name != "llama_decode":
        return inputs
    from transformers import DynamicCache
    past = inputs["past_key_values"]
    pairs = [(layer.keys.clone(), layer.values.clone()) for layer in past.layers]
    return {**inputs, "past_key_values": DynamicCache(ddp_cache_data=pairs)}


def kernel_ms_by_op_type(path: str, feeds: dict, threads: int, runs: int, folder: str) -> dict[str, float]:
    """Mean kernel ms per run by op type, from onnxruntime's profiler."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(folder, "profile")
    sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    f = feeds_for(sess, feeds)
    for _ in range(runs + 1):
        sess.run(None, f)
    with open(sess.end_profiling()) as fh:
        events = json.load(fh)
    totals: dict[str, float] = collections.defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            totals[event["args"].get("op_name", "?")] += event["dur"] / 1000.0
    return {op: round(ms / (runs + 1), 3) for op, ms in sorted(totals.items(), key=lambda kv: -kv[1])[:8]}


# -------------------------------------------------------------------- main
def _cell(cell: dict) -> str:
    if "ms" not in cell:
        return cell.get("note", "?")[:60]
    text = f"{cell['ms']:.2f} ms"
    return text + (f", {cell['mb']:.1f} MB, err {cell['error']:.1e}" if "mb" in cell else "")


def markdown(results: list[dict]) -> str:
    """The latency table, the ratios the targets read, the int8 files' errors side by side,
    the float16 rows, and every note in full (a cell that could not be measured says why)."""
    lines = ["| model | threads | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for r in results:
        cells = [_cell(r["row"].get(column, {"note": "not run"})) for column in COLUMNS]
        lines.append(f"| {r['model']} | {r['threads'] or 'all'} | " + " | ".join(cells) + " |")
    lines += ["", "| model | threads | ort-cpu / dynamo | ort-cpu / graphnn fp32 | int8 / graphnn fp32 | "
              "int8 / dynamo+qd | rel err graphnn fp32 | rel err graphnn int8 | rel err dynamo+qd |",
              "|---" * 9 + "|"]
    for r in results:
        row = r["row"]
        ms = lambda c: row.get(c, {}).get("ms")  # noqa: E731
        ratio = lambda a, b: f"{ms(a) / ms(b):.2f}x" if ms(a) and ms(b) else "n/a"  # noqa: E731
        rel = lambda c: f"{row[c]['rel']:.1e}" if "rel" in row.get(c, {}) else "n/a"  # noqa: E731
        lines.append(f"| {r['model']} | {r['threads'] or 'all'} | {ratio('graphnn ort-cpu', 'dynamo')} | "
                     f"{ratio('graphnn ort-cpu', 'graphnn fp32')} | {ratio('graphnn int8', 'graphnn fp32')} | "
                     f"{ratio('graphnn int8', 'dynamo + quantize_dynamic')} | {rel('graphnn fp32')} | "
                     f"{rel('graphnn int8')} | {rel('dynamo + quantize_dynamic')} |")
    fp16 = [r for r in results if "graphnn fp16" in r["row"]]
    if fp16:
        lines += ["", "| model | threads | graphnn fp16 | fp16 / graphnn fp32 | rel err fp16 |", "|---" * 5 + "|"]
        for r in fp16:
            cell, base = r["row"]["graphnn fp16"], r["row"].get("graphnn fp32", {})
            ratio = f"{cell['ms'] / base['ms']:.2f}x" if "ms" in cell and "ms" in base else "n/a"
            lines.append(f"| {r['model']} | {r['threads'] or 'all'} | {_cell(cell)} | {ratio} | "
                         f"{cell['rel']:.1e} |" if "rel" in cell else f"| {r['model']} | - | {_cell(cell)} | | |")
    notes = {(r["model"], c): cell["note"] for r in results for c, cell in r["row"].items() if "note" in cell}
    notes.update({(r["model"], "dynamo + quantize_dynamic, preparation"): note
                  for r in results for note in r.get("notes", [])})
    lines += ["", *(f"note, {model} {column}: {note}" for (model, column), note in notes.items())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="8 runs per file")
    parser.add_argument("--threads", default="1,0", help="intra-op threads to measure; 0 = all cores")
    parser.add_argument("--profile", action="store_true",
                        help="kernel ms by op type (graphnn ort-cpu, fp32, int8, dynamo)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    runs = 8 if args.quick else args.runs
    results, profiles = [], {}
    for name in args.models.split(","):
        torch.manual_seed(0)
        model, inputs = MODELS[name]()
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            files, reports = graphnn_files(model, lambda: _fresh(name, inputs), name, folder)
            notes = []
            files.update(dynamo_files(model, _fresh(name, inputs), name, folder, notes))
            print("".join(f"  {note}\n" for note in notes), end="", file=sys.stderr)
            print(f"{name}: files in {time.perf_counter() - start:.0f}s", file=sys.stderr)
            for threads in (int(t) for t in args.threads.split(",")):
                row = measure(name, threads, files, model, inputs, runs)
                results.append({"model": name, "threads": threads, "row": row, "reports": reports, "notes": notes})
                print(markdown(results[-1:]).split("\n")[2], file=sys.stderr)
                if args.profile and files.get("graphnn ort-cpu", "").endswith(".onnx"):
                    key = f"{name} threads={threads or 'all'}"
                    profiles[key] = {
                        c: kernel_ms_by_op_type(files[c], flat_inputs(inputs), threads, runs, folder)
                        for c in PROFILED if files.get(c, "").endswith(".onnx")}
                    print(f"kernel ms by op type, {key}: {json.dumps(profiles[key])}", file=sys.stderr)
    print(markdown(results))
    for r in results:
        if r["threads"] == 1:
            for column, lines in r["reports"].items():
                print(f"\n{r['model']}, {column} report:\n" + "\n".join(lines))
    for key, per_file in profiles.items():
        print(f"\nkernel ms per run by op type, {key}:")
        for column, ops in per_file.items():
            print(f"  {column}: {ops}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "profiles": profiles}, f, indent=1)


if __name__ == "__main__":
    main()
