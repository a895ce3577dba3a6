"""Benchmark: export speed, memory and file latency of graphnn against the official exporters.

Run on demand (not part of the tests; the dynamo exporter needs onnxscript):
    python benchmarks/export_speed.py --quick
    python benchmarks/export_speed.py [--models 'tv:*,mlp*'] [--json out.json] [--markdown out.md]
    .venv-bench/bin/python benchmarks/export_speed.py     # adds torchvision's models (see README)

Side by side in one run: graphnn, torch.onnx.export(dynamo=False) ("TorchScript exporter") and
torch.onnx.export(dynamo=True), on every fixture, torchvision's classification models (when
torchvision is importable), a 6-layer TransformerEncoder, a 2-layer LSTM language model and
MLPs of 100 to 2000 Linear+ReLU blocks.

Every export runs in a fresh subprocess (``--child``), so no exporter inherits another's
caches or memory: the subprocess imports its exporter, builds the model (seeded: the same
weights in every process), then exports it to a file twice (in /dev/shm where there is one,
so the disk's speed is no exporter's). *cold* is the first export of
the process, *warm* the best of ``--repeat`` more; *peak RSS over build* is the process's
peak RSS during the cold export minus its RSS before it (after imports and the build), as
in issue 7. graphnn exports with parity off (all three do the same work); its parity check
is then timed on its own, against the *floor* parity cannot go below (one onnxruntime
session, plus one torch forward and one onnxruntime run per size parity checks), both timed
after one untimed floor run has warmed torch, onnxruntime and the page cache. Last, one
more subprocess loads the three files, and graphnn's file a second time as a control, and
times them in onnxruntime on the CPU, one run of each file in turn per round (interleaved, so
load from other processes hits all alike; each round starts with the next file): the median
and the fastest run of each. The control says how far two sessions of one file differ on
this machine ("same file twice"); a latency ratio within that spread is not counted as a miss.
Ratios (graphnn / official) are the headline; the targets of issue 7 are checked at the end
of the Markdown.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

SAME_FILE = "graphnn_again"  # the latency control: graphnn's file in a second session
EXPORTERS = ("graphnn", "ts", "dynamo")
TITLES = {"graphnn": "graphnn", "ts": "TorchScript", "dynamo": "dynamo"}
MLP_DEPTHS = (100, 200, 500, 1000, 2000)
MLP_WIDTH = 128
QUICK = ("fixture:simple_cnn,fixture:conv_bn_relu,fixture:sequence_model,fixture:transformer_encoder_layer,"
         "tv:resnet18,transformer_encoder6,lstm_lm2,mlp100,mlp200")
TORCHVISION_EXTRA = ("vgg11_bn",)  # the largest model, beside the torchvision benchmark's list


# ---------------------------------------------------------------- the models

@dataclass
class Case:
    name: str
    group: str
    build: Callable[[], tuple]  # () -> (model, inputs, dynamic_dims); call after seeding


def _fixture_case(path: str) -> Case:
    def build():
        from graphnn.loader import load_model_file
        loaded = load_model_file(path)
        return loaded.model, loaded.example_inputs, loaded.dynamic_dims
    return Case(f"fixture:{os.path.basename(path)[:-3]}", "fixtures", build)


def _torchvision_case(name: str) -> Case:
    def build():
        import torch
        from torchvision_models import build as build_torchvision
        size = 299 if name == "inception_v3" else 224
        return build_torchvision(name), (torch.randn(1, 3, size, size),), None
    return Case(f"tv:{name}", "torchvision", build)


def _transformer_encoder():
    import torch
    import torch.nn as nn
    layer = nn.TransformerEncoderLayer(512, 8, 2048, batch_first=True)
    model = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
    # TransformerEncoder deep-copies one layer: six identical weight sets, which the TorchScript
    # exporter stores once (a 12 MB file that stays in cache). A trained model's layers differ.
    model.layers = nn.ModuleList(nn.TransformerEncoderLayer(512, 8, 2048, batch_first=True) for _ in range(6))
    return model, (torch.randn(4, 64, 512),), [{0: "batch", 1: "seq"}]


def _lstm_language_model():
    import torch
    import torch.nn as nn

    class LanguageModel(nn.Module):
        """Embedding, a 2-layer LSTM, a projection back onto the vocabulary."""

        def __init__(self, vocabulary=10000, width=512):
            super().__init__()
            self.embed = nn.Embedding(vocabulary, width)
            self.lstm = nn.LSTM(width, width, num_layers=2, batch_first=True)
            self.head = nn.Linear(width, vocabulary)

        def forward(self, ids):
            hidden, _ = self.lstm(self.embed(ids))
            return self.head(hidden)

    return LanguageModel(), (torch.randint(0, 10000, (4, 32)),), [{0: "batch", 1: "seq"}]


def _mlp_case(depth: int) -> Case:
    def build():
        import torch
        import torch.nn as nn
        layers = [m for _ in range(depth) for m in (nn.Linear(MLP_WIDTH, MLP_WIDTH), nn.ReLU())]
        return nn.Sequential(*layers), (torch.randn(8, MLP_WIDTH),), None
    return Case(f"mlp{depth}", "depth", build)


def _torchvision_names() -> list[str]:
    try:
        import torchvision  # noqa: F401  (only its benchmark venv has it)
    except ImportError:
        return []
    from torchvision_models import DEFAULT_MODELS
    return DEFAULT_MODELS.split(",") + list(TORCHVISION_EXTRA)


def catalog() -> dict[str, Case]:
    """Every model the benchmark knows, by name, in the order of the tables."""
    cases = [_fixture_case(os.path.join(ROOT, "fixtures", f))
             for f in sorted(os.listdir(os.path.join(ROOT, "fixtures"))) if f.endswith(".py")]
    cases += [_torchvision_case(n) for n in _torchvision_names()]
    cases += [Case("transformer_encoder6", "sequence", _transformer_encoder),
              Case("lstm_lm2", "sequence", _lstm_language_model)]
    cases += [_mlp_case(d) for d in MLP_DEPTHS]
    return {c.name: c for c in cases}


def _globs(patterns: str) -> list[str]:
    return [p.strip() for p in patterns.split(",") if p.strip()]


def select(cases: dict[str, Case], patterns: str, skip: str = "") -> list[Case]:
    """Cases matching any comma-separated glob (``tv:*``, ``mlp*``, ``fixture:simple_cnn``)
    and none of ``skip``'s."""
    wanted, unwanted = _globs(patterns), _globs(skip)
    chosen = [c for c in cases.values() if any(fnmatch.fnmatchcase(c.name, p) for p in wanted)
              and not any(fnmatch.fnmatchcase(c.name, p) for p in unwanted)]
    if not chosen:
        raise SystemExit(f"error: no model matches {patterns!r}; --list shows the names")
    return chosen


def build_case(case: Case):
    import torch
    torch.manual_seed(0)
    model, inputs, dims = case.build()
    return model.eval(), inputs, dims


# ---------------------------------------------------------------- one export, in its own process

def _preimport(exporter: str) -> None:
    """Import what the exporter needs before the build, so RSS over build is the export's."""
    import torch.onnx  # noqa: F401
    import graphnn.api  # noqa: F401  (graphnn imports its API on first use)
    if exporter == "dynamo":
        import onnxscript  # noqa: F401


def _exporter(exporter: str, model, inputs, dims, path: str, opset: int) -> Callable[[], object]:
    if exporter == "graphnn":
        import graphnn
        return lambda: graphnn.export(model, inputs, path, opset=opset, dynamic_dims=dims, check=False)
    from baselines import official_export_file
    return lambda: official_export_file(model, inputs, path, exporter == "dynamo", dims, opset)


def _file_facts(path: str) -> dict:
    import onnx
    from baselines import op_histogram
    proto = onnx.load(path, load_external_data=False)
    folder, base = os.path.split(path)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.startswith(base))  # + .data
    return {"file_mb": size / 2**20, "nodes": len(proto.graph.node), "ops": op_histogram(proto)}


def _parity(model, inputs, dims, result, opset: int) -> dict:
    """graphnn's parity check, and its floor: one session, one torch forward and one run per size."""
    import torch
    import graphnn
    from graphnn.onnxfile.serialize import runtime_source
    from graphnn.inputs import model_inputs
    from graphnn.checking.parity import size_plans, torch_outputs
    from graphnn.checking.runtime import create_runtime
    ready = model_inputs(model, inputs, dims)
    generator = torch.Generator().manual_seed(0)
    plans = [list(ready.tensors) if sizes == ready.symbols else ready.resized(sizes, generator)
             for sizes in size_plans(ready.symbols)]
    onnx_model = result.onnx_model

    def floor_once() -> float:
        start = time.perf_counter()
        runtime = create_runtime(runtime_source(onnx_model))
        for tensors in plans:
            torch_outputs(model, ready, tensors)
            runtime.run(dict(zip(runtime.input_names, (t.numpy() for t in tensors))))
        return time.perf_counter() - start

    floor_once()  # warms torch, onnxruntime and the page cache for both timings below
    start = time.perf_counter()
    report = graphnn.check_parity(model, inputs, onnx_model, opset=opset, dynamic_dims=dims)
    seconds = time.perf_counter() - start
    return {"parity_s": seconds, "parity_floor_s": floor_once(), "parity_ok": report.ok}


def child_export(exporter: str, name: str, path: str, opset: int, repeat: int) -> dict:
    """Build one model and export it: cold, then warm; the facts of the file; graphnn's parity."""
    from graphnn import timings
    _preimport(exporter)
    case = catalog()[name]
    model, inputs, dims = build_case(case)
    params = sum(p.numel() for p in model.parameters())
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    export = _exporter(exporter, model, inputs, dims, path, opset)
    exact = timings.reset_peak()
    before = timings.rss_mb()
    start = time.perf_counter()
    export()
    cold = time.perf_counter() - start
    over_build = timings.peak_mb() - before
    warm, stages, result = float("inf"), {}, None
    for _ in range(repeat):
        with timings.recording(exporter == "graphnn") as recorded:
            start = time.perf_counter()
            result = export()
            seconds = time.perf_counter() - start
        if seconds < warm:
            warm, stages = seconds, {s.name: s.seconds for s in recorded.stages}
    facts = {"params": params, "weights_mb": weights / 2**20, "cold_s": cold, "warm_s": warm,
             "rss_over_build_mb": over_build, "exact_peak": exact, "stages": stages, **_file_facts(path)}
    if exporter == "graphnn":
        facts.update(_parity(model, inputs, dims, result, opset))
    return facts


# ---------------------------------------------------------------- latency of the files, in one process

def child_latency(name: str, files: dict[str, str], threads: int, runs: int, budget_s: float) -> dict:
    """Median ms per file over interleaved rounds (as many as fit in ``budget_s``, at least 5),
    and each official file's largest output difference from graphnn's."""
    import onnxruntime as ort
    from baselines import feeds_for, interleaved_times, max_abs_diff
    _, inputs, _ = build_case(catalog()[name])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    sessions, feeds, outputs, failed = {}, {}, {}, {}
    if "graphnn" in files:  # graphnn's file in a second session: how far identical files differ here
        files = {**files, SAME_FILE: files["graphnn"]}
    for k, path in files.items():  # a file onnxruntime refuses is reported; the others still run
        try:
            sessions[k] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            feeds[k] = feeds_for(sessions[k], inputs)
            outputs[k] = sessions[k].run(None, feeds[k])
        except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own types)
            sessions.pop(k, None)
            failed[k] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
    start = time.perf_counter()
    for k, s in sessions.items():
        s.run(None, feeds[k])
    per_round = time.perf_counter() - start
    rounds = max(5, min(runs, int(budget_s / max(per_round, 1e-6))))
    times = interleaved_times({k: (lambda s=s, f=feeds[k]: s.run(None, f)) for k, s in sessions.items()},
                              runs=rounds, warmup=2)
    diffs = {}
    for k in outputs:
        if k not in ("graphnn", SAME_FILE) and "graphnn" in outputs:
            try:
                diffs[k] = max_abs_diff(outputs["graphnn"][:1], outputs[k][:1])
            except ValueError:  # shapes differ (an exporter changed the outputs)
                diffs[k] = None
    return {"latency_ms": {k: statistics.median(t) for k, t in times.items()},
            "latency_best_ms": {k: min(t) for k, t in times.items()}, "rounds": rounds, "max_diff": diffs,
            "failed": failed}


# ---------------------------------------------------------------- the parent: run children, tabulate

def _run_child(args: list[str], timeout: int, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
    try:
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *args], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    return {"error": _exception_line(done.stderr) or f"exit {done.returncode}"}


def _exception_line(stderr: str) -> str:
    """The last ``SomeError: message`` line of a traceback (exporters end theirs with advice)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in stderr.splitlines() if line.strip()]
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Violation)\b", line)]
    return (found[-1] if found else lines[-1] if lines else "")[:200]


def measure(case: Case, args, folder: str) -> dict:
    row = {"model": case.name, "group": case.group, "exports": {}, "latency": None}
    files = {}
    for exporter in args.exporters:
        path = os.path.join(folder, f"{exporter}.onnx")
        facts = _run_child(["export", exporter, case.name, path, str(args.opset), str(args.repeat)],
                           args.timeout, args.threads)
        row["exports"][exporter] = facts
        if "error" not in facts:
            files[exporter] = path
        print(f"  {case.name} {exporter}: " + (facts["error"] if "error" in facts else
              f"cold {facts['cold_s']:.2f}s warm {facts['warm_s']:.2f}s rss {facts['rss_over_build_mb']:.0f}MB "
              f"nodes {facts['nodes']}"), file=sys.stderr, flush=True)
    if files and not args.no_latency:
        row["latency"] = _run_child(["latency", case.name, json.dumps(files), str(args.threads), str(args.runs),
                                     str(args.latency_budget)], args.timeout, args.threads)
    return row


def _get(row: dict, exporter: str, key: str):
    facts = row["exports"].get(exporter) or {}
    return facts.get(key)


def _latency(row: dict, exporter: str, key: str = "latency_ms") -> Optional[float]:
    """The median (or with ``latency_best_ms`` the fastest) ms of one file."""
    lat = row.get("latency") or {}
    return (lat.get(key) or {}).get(exporter)


def _ratio(a, b) -> Optional[float]:
    return a / b if a is not None and b else None


def _fmt(value, spec: str = ".2f", none: str = "–") -> str:
    return none if value is None else format(value, spec)


def ratios(row: dict) -> dict:
    """The headline numbers of one model: graphnn over each official exporter."""
    g_warm, g_lat = _get(row, "graphnn", "warm_s"), _latency(row, "graphnn")
    weights = _get(row, "graphnn", "weights_mb") or _get(row, "ts", "weights_mb") or 0.0
    return {"export_vs_ts": _ratio(g_warm, _get(row, "ts", "warm_s")),
            "export_vs_dynamo": _ratio(g_warm, _get(row, "dynamo", "warm_s")),
            "latency_vs_best": _latency_ratio(row, "latency_ms"),
            "fastest_latency_vs_best": _latency_ratio(row, "latency_best_ms"),
            "rss_limit_mb": 0.5 * weights + 150}


def latency_noise(row: dict) -> Optional[float]:
    """How far two sessions of graphnn's own file differed (median ms): 0.03 = 3 %. A latency
    ratio within it is not a difference between the files."""
    ratio = _ratio(_latency(row, SAME_FILE), _latency(row, "graphnn"))
    return abs(ratio - 1.0) if ratio is not None else None


def _latency_ratio(row: dict, key: str) -> Optional[float]:
    """graphnn's file over the faster official file."""
    officials = [x for x in (_latency(row, "ts", key), _latency(row, "dynamo", key)) if x is not None]
    return _ratio(_latency(row, "graphnn", key), min(officials)) if officials else None


def misses(row: dict) -> list[str]:
    """Issue 7's per-model targets this row misses."""
    r, found = ratios(row), []
    params = _get(row, "graphnn", "params") or 0
    if params >= 1e6 and r["export_vs_ts"] is not None and r["export_vs_ts"] > 1.0:
        found.append(f"export {r['export_vs_ts']:.2f}x TS")
    rss = _get(row, "graphnn", "rss_over_build_mb")
    if rss is not None and rss > r["rss_limit_mb"]:
        found.append(f"RSS {rss:.0f} > {r['rss_limit_mb']:.0f} MB")
    dyn_rss, weights = _get(row, "dynamo", "rss_over_build_mb"), _get(row, "graphnn", "weights_mb") or 0
    if weights > 100 and rss is not None and dyn_rss is not None and rss > dyn_rss:
        found.append(f"RSS {rss:.0f} > dynamo's {dyn_rss:.0f} MB")
    noise = latency_noise(row) or 0.0  # slower by the median and the fastest run, past the same-file spread
    if r["latency_vs_best"] is not None and r["latency_vs_best"] > 1.0 + noise and (r["fastest_latency_vs_best"] or 2) > 1.0:
        found.append(f"latency {r['latency_vs_best']:.2f}x")
    return found


def _build_seconds(row: dict) -> Optional[float]:
    """graphnn's trace + passes + lower (its warm export without check and write)."""
    stages = _get(row, "graphnn", "stages")
    return sum(s for k, s in stages.items() if k not in ("check", "write", "parity")) if stages else None


def summary(rows: list[dict]) -> dict:
    """The issue's targets over the whole run."""
    by_name = {r["model"]: r for r in rows}
    vs_dynamo = [r for r in (ratios(row)["export_vs_dynamo"] for row in rows) if r is not None]
    out = {"median_export_vs_dynamo": statistics.median(vs_dynamo) if vs_dynamo else None,
           "models": len(rows), "models_missing": {r["model"]: misses(r) for r in rows if misses(r)}}
    if "mlp200" in by_name and "mlp2000" in by_name:
        out["mlp2000_vs_mlp200_build"] = _ratio(_build_seconds(by_name["mlp2000"]), _build_seconds(by_name["mlp200"]))
        out["mlp2000_vs_mlp200_export"] = _ratio(_get(by_name["mlp2000"], "graphnn", "warm_s"),
                                                 _get(by_name["mlp200"], "graphnn", "warm_s"))
    return out


def _same_file(row: dict) -> str:
    """graphnn's file run in two sessions: the second's median over the first's."""
    return _fmt(_ratio(_latency(row, SAME_FILE), _latency(row, "graphnn")))


def markdown(rows: list[dict], meta: dict) -> str:
    head = ("| model | params M | graphnn / TS export | graphnn / dynamo export | RSS over build MB: graphnn / TS / "
            "dynamo (limit) | latency ms: graphnn / TS / dynamo | latency vs faster (fastest runs) | same file twice | misses |")
    lines = [f"Run: {meta['when']}, {meta['machine']}; torch {meta['torch']}, onnxruntime {meta['onnxruntime']}, "
             f"opset {meta['opset']}; {meta['threads']} thread(s) for torch and onnxruntime; warm = best of "
             f"{meta['repeat']}.", "", head, "|" + "---|" * 9]
    for row in rows:
        r = ratios(row)
        rss = " / ".join(_fmt(_get(row, e, "rss_over_build_mb"), ".0f") for e in EXPORTERS)
        lat = " / ".join(_fmt(_latency(row, e), ".3g") for e in EXPORTERS)
        params = _get(row, "graphnn", "params")
        lines.append(f"| {row['model']} | {_fmt(params / 1e6 if params is not None else None, '.2f')} | "
                     f"{_fmt(r['export_vs_ts'])} | {_fmt(r['export_vs_dynamo'])} | {rss} ({r['rss_limit_mb']:.0f}) | "
                     f"{lat} | {_fmt(r['latency_vs_best'])} ({_fmt(r['fastest_latency_vs_best'])}) | "
                     f"{_same_file(row)} | {'; '.join(misses(row)) or ''} |")
    lines += ["", "Details (seconds; cold = first export of a fresh process, warm = best of the next ones):", "",
              "| model | cold: graphnn / TS / dynamo | warm: graphnn / TS / dynamo | graphnn parity (floor) | "
              "file MB: graphnn / TS / dynamo | nodes: graphnn / TS / dynamo |", "|" + "---|" * 6]
    for row in rows:
        cells = [" / ".join(_fmt(_get(row, e, key), spec) for e in EXPORTERS)
                 for key, spec in (("cold_s", ".3g"), ("warm_s", ".3g"))]
        parity = f"{_fmt(_get(row, 'graphnn', 'parity_s'), '.3g')} ({_fmt(_get(row, 'graphnn', 'parity_floor_s'), '.3g')})"
        sizes = " / ".join(_fmt(_get(row, e, "file_mb"), ".3g") for e in EXPORTERS)
        nodes = " / ".join(_fmt(_get(row, e, "nodes"), "d") for e in EXPORTERS)
        lines.append(f"| {row['model']} | {cells[0]} | {cells[1]} | {parity} | {sizes} | {nodes} |")
    errors = [(row["model"], e, f["error"]) for row in rows for e, f in row["exports"].items() if "error" in f]
    errors += [(row["model"], "latency", row["latency"]["error"]) for row in rows
               if row.get("latency") and "error" in row["latency"]]
    errors += [(row["model"], f"{e} file in onnxruntime", msg) for row in rows
               for e, msg in ((row.get("latency") or {}).get("failed") or {}).items()]
    if errors:
        lines += ["", "Failures (– in the tables):", ""] + [f"- {m}, {e}: {msg}" for m, e, msg in errors]
    s = summary(rows)
    lines += ["", "Targets (issue 7):", "",
              f"- median graphnn / dynamo export time: {_fmt(s['median_export_vs_dynamo'])} (target <= 0.10)"]
    if "mlp2000_vs_mlp200_build" in s:
        lines.append(f"- MLP 2000 / MLP 200, trace + passes + lower: {_fmt(s['mlp2000_vs_mlp200_build'], '.1f')}x "
                     f"(whole export {_fmt(s['mlp2000_vs_mlp200_export'], '.1f')}x; target <= 10x)")
    lines.append(f"- models missing a per-model target: {len(s['models_missing'])} of {s['models']}"
                 + "".join(f"\n  - {m}: {'; '.join(x)}" for m, x in s["models_missing"].items()))
    return "\n".join(lines)


def _scratch() -> Optional[str]:
    """Where the files go: memory (/dev/shm) where there is one, so that every exporter's
    time is its own work, not the disk's (a shared disk here wrote 70 MB/s)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _meta(args) -> dict:
    import onnxruntime
    import torch
    return {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "torch": torch.__version__.split("+")[0],
            "onnxruntime": onnxruntime.__version__, "opset": args.opset, "threads": args.threads,
            "repeat": args.repeat, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}


def report(paths: list[str]) -> str:
    """The tables of several runs (e.g. one per venv or per group) as one: their rows in order,
    a model measured twice keeps its last run; the first run's settings head the table."""
    runs = []
    for path in paths:
        with open(path) as handle:
            runs.append(json.load(handle))
    rows = {row["model"]: row for run in runs for row in run["rows"]}
    return markdown(list(rows.values()), runs[0]["meta"])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="*", help="comma-separated globs over the names (--list shows them)")
    parser.add_argument("--skip", default="", help="comma-separated globs of models to leave out")
    parser.add_argument("--quick", action="store_true", help=f"a small set: {QUICK}")
    parser.add_argument("--list", action="store_true", help="print the model names and exit")
    parser.add_argument("--exporters", default=",".join(EXPORTERS), help="any of graphnn,ts,dynamo")
    parser.add_argument("--repeat", type=int, default=1, help="warm exports per process (best of)")
    parser.add_argument("--runs", type=int, default=30, help="at most this many interleaved latency rounds")
    parser.add_argument("--latency-budget", type=float, default=15.0, help="seconds of latency rounds per model")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per subprocess")
    parser.add_argument("--json", help="write the measurements here (rewritten after every model)")
    parser.add_argument("--markdown", help="write the tables here (also printed)")
    parser.add_argument("--keep-files", help="keep the ONNX files in this folder")
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="measure nothing: print the tables of earlier runs' --json files, merged in order")
    args = parser.parse_args(argv)
    args.exporters = [e for e in args.exporters.split(",") if e]
    unknown = set(args.exporters) - set(EXPORTERS)
    if unknown:
        parser.error(f"unknown exporters {sorted(unknown)}; choose from {', '.join(EXPORTERS)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.report:
        print(report(args.report))
        return
    cases = catalog()
    if args.list:
        print("\n".join(cases))
        return
    chosen = select(cases, QUICK if args.quick else args.models, args.skip)
    meta, rows = _meta(args), []
    work = args.keep_files or tempfile.mkdtemp(prefix="export-speed-", dir=_scratch())
    try:
        for i, case in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}] {case.name}", file=sys.stderr, flush=True)
            folder = os.path.join(work, case.name.replace(":", "_"))
            os.makedirs(folder, exist_ok=True)
            rows.append(measure(case, args, folder))
            if not args.keep_files:
                shutil.rmtree(folder, ignore_errors=True)
            if args.json:
                with open(args.json, "w") as handle:
                    json.dump({"meta": meta, "rows": rows, "summary": summary(rows)}, handle, indent=1)
    finally:
        if not args.keep_files:
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(rows, meta)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(text + "\n")
    print(text)


def child_main(argv: list[str]) -> None:
    """``--child export EXPORTER MODEL PATH OPSET REPEAT`` or ``--child latency MODEL FILES THREADS RUNS BUDGET``:
    one JSON line on stdout."""
    import warnings
    warnings.simplefilter("ignore")
    kind, rest = argv[0], argv[1:]
    if kind == "export":
        exporter, name, path, opset, repeat = rest
        result = child_export(exporter, name, path, int(opset), int(repeat))
    else:
        name, files, threads, runs, budget = rest
        result = child_latency(name, json.loads(files), int(threads), int(runs), float(budget))
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child_main(sys.argv[2:])
    else:
        main()
