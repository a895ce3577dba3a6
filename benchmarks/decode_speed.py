"""KV-cache decoding speed, batch 1, CPU: greedy tokens/s of graphnn's
``text-generation-with-past`` file in onnxruntime against the torch model in eager mode (its
own DynamicCache, ``generate``) and against the file of ``torch.onnx.export(dynamo=True)``
(the same flat inputs and outputs, driven by the same loop); and the export time of the
with-past file, graphnn against dynamo, with the share of each spent in torch.export's trace.
Random weights, ~20M-parameter Llama and GPT-2 configs.

    python benchmarks/decode_speed.py              # both models, 64 new tokens after an 8-token prompt

"torch generate" is ``generate(do_sample=False)`` (what users call); "torch loop" steps the
model by hand with its DynamicCache, without generate's per-step machinery. Tokens/s count the
new tokens over the whole decoding (the prompt's step included), medians of interleaved rounds
after an untimed one.
    python benchmarks/decode_speed.py --quick      # tiny configs, seconds

Needs onnxscript for the dynamo exporter (``pip install onnxscript``; not a graphnn dependency).
Record ``uptime`` beside the numbers: the machine may be shared.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import onnxruntime as ort
import torch
import transformers

import graphnn
from graphnn import timings
from graphnn.hf import decoding
from graphnn.hf.generation_check import torch_generate
from graphnn.hf.greedy import TokenIds, greedy
from graphnn.hf.tasks import TASKS

LLAMA = dict(vocab_size=8192, hidden_size=384, intermediate_size=1024, num_hidden_layers=8, num_attention_heads=6,
             num_key_value_heads=2, max_position_embeddings=512)
GPT2 = dict(vocab_size=8192, n_embd=384, n_layer=9, n_head=6, n_positions=512, bos_token_id=1, eos_token_id=2)
TINY_LLAMA = dict(LLAMA, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
TINY_GPT2 = dict(GPT2, n_embd=64, n_layer=2, n_head=4)
NO_EOS = TokenIds(eos=(), pad=0)  # every run makes all the tokens


def build(name: str, quick: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    if name == "llama":
        config = transformers.LlamaConfig(**(TINY_LLAMA if quick else LLAMA))
    else:
        config = transformers.GPT2Config(**(TINY_GPT2 if quick else GPT2))
    return transformers.AutoModelForCausalLM.from_config(config).eval()


class FlatPast(torch.nn.Module):
    """The model with graphnn's file's interface for the dynamo exporter: ids, mask, positions
    and the past as a flat list of per-layer key, value; logits and the flat present out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, past):
        cache = transformers.DynamicCache(ddp_cache_data=list(zip(past[0::2], past[1::2])))
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True)
        return out.logits, [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]


def export_graphnn(model, path: str) -> tuple[float, float]:
    """(seconds, of which torch.export's trace) of graphnn's with-past export, no parity."""
    examples = TASKS["text-generation-with-past"].inputs(model)
    with timings.recording(True) as recorded:
        began = time.perf_counter()
        graphnn.export(model, examples, path, check=False)
        seconds = time.perf_counter() - began
    return seconds, _stage(recorded, "trace")


def _stage(recorded, name: str) -> float:
    return sum(stage.seconds for stage in recorded.stages if stage.name == name)


def export_dynamo(model, path: str) -> tuple[float, float]:
    """(seconds of torch.onnx.export(dynamo=True) to the file, seconds of torch.export alone on
    the same module and shapes)."""
    examples = TASKS["text-generation-with-past"].inputs(model)
    past = [t for layer in examples["past_key_values"].layers for t in (layer.keys, layer.values)]
    args = (examples["input_ids"], examples["attention_mask"], examples["position_ids"], past)
    # Dim.DYNAMIC everywhere: torch derives total = past + new itself (named Dims would need the
    # sum of two Dims, which torch.export's derived dims cannot say)
    batch = new = past_len = total = torch.export.Dim.DYNAMIC
    shapes = ({0: batch, 1: new}, {0: batch, 1: total}, {0: batch, 1: new}, [{0: batch, 2: past_len}] * len(past))
    names = ["input_ids", "attention_mask", "position_ids"] + [
        f"past_key_values.{i // 2}.{'key' if i % 2 == 0 else 'value'}" for i in range(len(past))]
    outputs = ["logits"] + [n.replace("past_key_values.", "present.") for n in names[3:]]
    flat = FlatPast(model).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        began = time.perf_counter()
        torch.export.export(flat, args, dynamic_shapes=shapes, strict=False)
        trace = time.perf_counter() - began
        began = time.perf_counter()
        program = torch.onnx.export(flat, args, None, dynamo=True, dynamic_shapes=shapes, input_names=names,
                                    output_names=outputs, optimize=True, verbose=False)
        program.save(path)
        seconds = time.perf_counter() - began
    return seconds, trace


def warm_up_exporters() -> None:
    """One untimed export of a tiny Llama each way, so neither timed export pays the process's
    one-time costs (torch.export's and the dynamo exporter's first-call setup) for the other:
    without it the first exporter timed reads ~10% slower."""
    model = build("llama", quick=True)
    with tempfile.TemporaryDirectory() as root:
        export_graphnn(model, os.path.join(root, "graphnn.onnx"))
        try:
            export_dynamo(model, os.path.join(root, "dynamo.onnx"))
        except Exception:  # measured (and reported) per model later
            pass


def ort_tokens_per_second(path: str, prompt: np.ndarray, new_tokens: int, threads: int) -> tuple[float, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    runtime = _Runtime(session)
    began = time.perf_counter()
    tokens = greedy(decoding.WithPast(runtime, prompt, np.ones_like(prompt)), 1, new_tokens, NO_EOS)
    return new_tokens / (time.perf_counter() - began), tokens


class _Runtime:
    """What decoding.WithPast needs of graphnn's Runtime, over a session made here (threads set)."""

    def __init__(self, session):
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]

    def run(self, feeds):
        return self.session.run(None, feeds)


def eager_loop_tokens_per_second(model, prompt: torch.Tensor, new_tokens: int) -> tuple[float, np.ndarray]:
    """The torch model stepped by hand with its DynamicCache (no generate machinery): what
    eager decoding costs without generate's per-step overhead."""
    mask = torch.ones_like(prompt)
    cache, ids, tokens = transformers.DynamicCache(), prompt, []
    with torch.no_grad():
        began = time.perf_counter()
        for _ in range(new_tokens):
            positions = torch.arange(mask.shape[1] - ids.shape[1], mask.shape[1])[None]
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                        use_cache=True)
            ids = out.logits[:, -1].argmax(-1, keepdim=True)
            tokens.append(ids)
            mask = torch.cat([mask, torch.ones_like(ids)], dim=1)
        seconds = time.perf_counter() - began
    return new_tokens / seconds, torch.cat(tokens, dim=1).numpy()


def op_profile(path: str, prompt: np.ndarray, new_tokens: int, threads: int) -> tuple[int, list]:
    """(node count, [(op type, share of kernel time, ms per token)]) over one decoding, from
    onnxruntime's profiler: where each file's time goes."""
    import json
    from collections import Counter
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.enable_profiling = threads, True
    options.profile_file_prefix = os.path.splitext(path)[0]
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    greedy(decoding.WithPast(_Runtime(session), prompt, np.ones_like(prompt)), 1, new_tokens, NO_EOS)
    with open(session.end_profiling()) as handle:
        events = json.load(handle)
    per_op = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values())
    nodes = len(__import__("onnx").load(path, load_external_data=False).graph.node)
    return nodes, [(op, dur / total, dur / 1000 / new_tokens) for op, dur in per_op.most_common(8)]


def measure(name: str, args) -> dict:
    model = build(name, args.quick)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    prompt = torch.randint(3, model.config.vocab_size, (1, args.prompt), generator=torch.Generator().manual_seed(1))
    row = {"model": name, "params": params}
    with tempfile.TemporaryDirectory() as root:
        ours, dynamo = os.path.join(root, "graphnn.onnx"), os.path.join(root, "dynamo.onnx")
        row["graphnn_export"], row["graphnn_trace"] = export_graphnn(model, ours)
        try:
            row["dynamo_export"], row["dynamo_trace"] = export_dynamo(model, dynamo)
        except Exception as exc:  # the comparison's failure is a table note, not a crash
            row["dynamo_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        rates = {"graphnn": [], "dynamo": [], "eager": [], "loop": []}
        for repeat in range(args.repeats + 1):  # interleaved, medians; the first round warms up, untimed
            keep = (lambda side, rate: rates[side].append(rate)) if repeat else (lambda side, rate: None)
            rate, tokens = ort_tokens_per_second(ours, prompt.numpy(), args.tokens, args.threads)
            keep("graphnn", rate)
            if "dynamo_error" not in row:
                try:
                    rate, theirs = ort_tokens_per_second(dynamo, prompt.numpy(), args.tokens, args.threads)
                    keep("dynamo", rate)
                    row["dynamo_same"] = bool(np.array_equal(tokens, theirs))
                except Exception as exc:
                    row["dynamo_error"] = f"runs: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            expected, seconds = torch_generate(model, {"input_ids": prompt, "attention_mask": torch.ones_like(prompt)},
                                               args.tokens, NO_EOS)
            keep("eager", expected.shape[1] / seconds)
            rate, looped = eager_loop_tokens_per_second(model, prompt, args.tokens)
            keep("loop", rate)
        row["same_tokens"] = bool(np.array_equal(tokens, expected) and np.array_equal(tokens, looped))
        if args.profile:
            for side, path in (("graphnn", ours), ("dynamo", dynamo)):
                if os.path.isfile(path):
                    nodes, ops = op_profile(path, prompt.numpy(), args.tokens, args.threads)
                    print(f"{name} {side} file: {nodes} nodes; kernel time by op: " + ", ".join(
                        f"{op} {share:.0%} ({ms:.2f} ms/token)" for op, share, ms in ops))
    row.update({f"{side}_tps": statistics.median(values) for side, values in rates.items() if values})
    return row


def table(rows: list) -> str:
    lines = ["| model | params | graphnn tok/s | torch generate tok/s | torch loop tok/s | dynamo file tok/s | "
             "graphnn / generate | graphnn / loop | graphnn / dynamo | same tokens | export graphnn s (trace) | "
             "export dynamo s (torch.export) | export graphnn / dynamo |", "|---" * 13 + "|"]
    for r in rows:
        dynamo = r.get("dynamo_tps")
        ours = r["graphnn_tps"]
        lines.append(
            f"| {r['model']} | {r['params']:.1f}M | {ours:.0f} | {r['eager_tps']:.0f} | {r['loop_tps']:.0f} | "
            f"{f'{dynamo:.0f}' if dynamo else 'n/a'} | {ours / r['eager_tps']:.2f}x | {ours / r['loop_tps']:.2f}x | "
            f"{f'{ours / dynamo:.2f}x' if dynamo else 'n/a'} | "
            f"{'yes' if r['same_tokens'] and r.get('dynamo_same', True) else 'NO'} | "
            f"{r['graphnn_export']:.2f} ({r['graphnn_trace']:.2f}) | "
            + (f"{r['dynamo_export']:.2f} ({r['dynamo_trace']:.2f}) | {r['graphnn_export'] / r['dynamo_export']:.2f} |"
               if "dynamo_export" in r else "n/a | n/a |"))
        if "dynamo_error" in r:
            lines.append(f"\n{r['model']}: dynamo {r['dynamo_error']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configs and one repeat")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per generation")
    parser.add_argument("--prompt", type=int, default=8, help="prompt length")
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="llama,gpt2")
    parser.add_argument("--profile", action="store_true", help="also print each file's kernel time by op type")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.tokens = 1, 16
    torch.set_num_threads(args.threads)
    warm_up_exporters()
    rows = [measure(name, args) for name in args.models.split(",")]
    print(table(rows))


if __name__ == "__main__":
    main()
