"""``graphnn check``: parity of ONNX against PyTorch, nothing written; the CI command.

One MODEL_PY prints its parity report. Several, or a folder, print one line per model (the
report under a failing one) and a summary. ``--onnx`` checks a file exported earlier, or by
another tool, instead of graphnn's own export; ``--json`` prints a report for tools.
"""
import json
import sys

import click

from . import options
from .output import print_report, progress
from .generation import check_generation
from .parts import check_parts
from graphnn import progress as live_progress
from graphnn.build import build
from graphnn.errors import GraphnnError, InputSpecError
from graphnn.hf.folder import load_parts
from graphnn.loader import load
from graphnn.model_files import model_files
from graphnn.testing import check_file
from graphnn.view.html import check_page
from graphnn.view.render import write_atomic

EXIT_OK, EXIT_PARITY, EXIT_ERROR = 0, 1, 2


def _folders_too(command: click.Command) -> click.Command:
    """MODEL_PY may be a folder here (every model file below it)."""
    for param in command.params:
        if param.name == "model_py":
            param.type = click.Path()
    return command


@_folders_too
@click.command()
@options.model_source
@click.argument("more_models", nargs=-1, type=click.Path(), metavar="[MODEL_PY]...")
@click.option("--onnx", "onnx_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Check this ONNX file (exported earlier, or by another exporter) against the model "
                   "instead of graphnn's own export; one MODEL_PY.")
@click.option("--runs", type=click.IntRange(1), default=1, show_default=True,
              help="Input draws per size: the example (at its own size) and random inputs; integers stay "
                   "in the example's range, an all-ones attention mask gets padding zeros.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--batch-sizes", metavar="N,N,...",
              help="Batch sizes to check besides the example's, e.g. 1,4,16 [default: 1 and 3].")
@click.option("--sizes", "dim_sizes", multiple=True, metavar="DIM=N,N,...",
              help="Sizes of another dynamic dim to check, e.g. seq=8,32,128 [default: one longer "
                   "and one shorter than the example]; repeatable.")
@click.option("--generate", "generate", type=int, metavar="N",
              help="Instead of parity: export (to a temporary folder), decode N new tokens greedily with "
                   "onnxruntime and with transformers' generate, at batch 1 and at batch 2 with left padding; "
                   "exit 1 unless the tokens are equal. For a causal LM or an encoder-decoder model.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON on stdout.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write an interactive page of the layer graph, each layer coloured by its parity "
                   "error (the first past tolerance marked); one MODEL_PY, graphnn's own export.")
@options.lowering
@options.target
@options.device
@options.tolerances
def check(model_py, loading, more_models, frontend, onnx_file, runs, seed, batch_sizes, dim_sizes, generate, as_json,
          html_path, opset, no_optimize, target, device, atol, rtol):
    """Check that the ONNX of each MODEL_PY computes what PyTorch computes.

    MODEL_PY: a model file, several, or a folder of them. Exit code 0 when every output
    matches within tolerance at every size tried, 1 on a mismatch, 2 when a model
    could not be checked (the other models are still checked): use it as a CI gate.
    With --device cuda the default rtol is 1e-3 (TF32 off; torch on CPU is the reference).

    \b
    Examples:
      graphnn check fixtures/simple_cnn.py --device auto
      graphnn check models/ --runs 3 --batch-sizes 1,4,16 --json > parity.json
      graphnn check net.py --onnx net.onnx          (a file exported earlier)
      graphnn check llama_dir/ --generate 16         (greedy tokens equal to transformers' generate)
    """
    if generate is not None:  # before the multi-file dispatch: a folder of parts decodes too
        given = {"MODEL_PY...": more_models, "--json": as_json, "--html": html_path, "--runs": runs != 1,
                 "--batch-sizes": batch_sizes, "--sizes": dim_sizes, "--atol": atol is not None,
                 "--rtol": rtol is not None}
        refused = [flag for flag, value in given.items() if value]
        if refused:
            raise InputSpecError(f"--generate checks one model's tokens at batch 1 and 2; not with {', '.join(refused)}")
        with live_progress.task("generate"):
            ok = check_generation(model_py, loading, generate, onnx_file, device, opset=opset, frontend=frontend,
                                  optimize_graph=not no_optimize, target=target)
        sys.exit(EXIT_OK if ok else EXIT_PARITY)
    paths = [p for given in (model_py, *more_models) for p in model_files(given)]
    if not paths:
        raise InputSpecError(f"no model files (.py) under {model_py}")
    if len(paths) > 1 and (onnx_file or loading.weights):
        option = "--onnx" if onnx_file else "--weights"
        raise InputSpecError(f"{option} goes with one MODEL_PY; {len(paths)} model files given")
    if html_path and (len(paths) > 1 or onnx_file):
        raise InputSpecError("--html goes with one MODEL_PY and graphnn's own export (no --onnx)")
    sizes = parse_sizes(batch_sizes, dim_sizes)
    parts = None if more_models or onnx_file or html_path or as_json else load_parts(model_py, loading)
    if parts is not None:  # a task written as several files: each file's parity
        with live_progress.task("check"):
            sys.exit(EXIT_OK if check_parts(parts, runs=runs, seed=seed, sizes=sizes, opset=opset, device=device,
                                            atol=atol, rtol=rtol, frontend=frontend,
                                            optimize_graph=not no_optimize, target=target) else EXIT_PARITY)
    settings = dict(loading=loading, onnx_file=onnx_file, runs=runs, seed=seed, sizes=sizes, opset=opset, device=device,
                    atol=atol, rtol=rtol, frontend=frontend, optimize_graph=not no_optimize, target=target)
    if len(paths) == 1 and paths[0] == model_py:
        sys.exit(_check_one(model_py, settings, as_json, html_path))
    sys.exit(_check_many(paths, settings, as_json))


def _check_one(path, settings: dict, as_json: bool, html_path=None) -> int:
    """One model: its report (a user error is `error: ...`, exit 2, from the group)."""
    progress(f"checking {path}" + (f" against {settings['onnx_file']}" if settings["onnx_file"] else ""))
    if as_json:
        try:
            outcome = _outcome(path, check_file(path, **settings))
        except GraphnnError as exc:
            click.echo(f"error: {exc}", err=True)
            outcome = _outcome(path, error=str(exc))
        _print_json([outcome])
        if html_path and outcome["report"] is not None:
            _write_html(path, settings, outcome["report"], html_path)
        return _exit_code([outcome])
    with live_progress.task("check"):
        result = check_file(path, **settings)
    print_report(result.report)
    if html_path:
        _write_html(path, settings, result.report, html_path)
    return EXIT_OK if result.report.ok else EXIT_PARITY


def _write_html(path, settings: dict, report, html_path: str) -> None:
    """The per-layer parity page, measured on the model check_file loaded the same way."""
    loaded, inputs = load(path, settings["loading"])
    with live_progress.task("per-layer errors"):
        built = build(loaded.model, inputs, settings["opset"], settings["frontend"], optimize_graph=False,
                      target=settings["target"])
        data = check_page(loaded.model, built, report).encode()
    write_atomic(html_path, data)
    progress(f"wrote {html_path} ({len(data):,} bytes)")


def _check_many(paths: list, settings: dict, as_json: bool) -> int:
    """One line per model (the report under a failing one), then a summary."""
    outcomes = []
    for number, path in enumerate(paths, 1):
        try:
            with live_progress.task(f"check {number}/{len(paths)} {path}"):  # cleared before its line prints
                outcome = _outcome(path, check_file(path, **settings))
        except GraphnnError as exc:
            outcome = _outcome(path, error=str(exc))
        outcomes.append(outcome)
        if not as_json:
            _print_line(outcome)
    if as_json:
        _print_json(outcomes)
    else:
        click.echo(_summary(outcomes))
    return _exit_code(outcomes)


def _outcome(path: str, result=None, error: str = "") -> dict:
    report = result.report if result else None
    status = "error" if error else ("ok" if report.ok else "failed")
    return {"path": str(path), "model": result.model_name if result else None, "status": status,
            "error": error or None, "report": report}


def _print_line(outcome: dict) -> None:
    path, report = outcome["path"], outcome["report"]
    if outcome["status"] == "error":
        click.echo(f"ERROR   {path}: {outcome['error']}")
        return
    word = "ok" if report.ok else "FAILED"
    runs = len(report.runs)
    click.echo(f"{word:<7} {path} ({outcome['model']}): max abs error {report.max_abs:.2e} on {report.device}, "
               f"{runs} run{'s' if runs != 1 else ''}")
    if not report.ok:
        for line in report.lines():
            click.echo(f"  {line}")


def _summary(outcomes: list) -> str:
    counts = {status: sum(o["status"] == status for o in outcomes) for status in ("ok", "failed", "error")}
    return (f"{len(outcomes)} model{'s' if len(outcomes) != 1 else ''}: {counts['ok']} ok, "
            f"{counts['failed']} failed, {counts['error']} could not be checked")


def _print_json(outcomes: list) -> None:
    models = [{**o, "report": o["report"].to_dict() if o["report"] else None} for o in outcomes]
    counts = {status: sum(o["status"] == status for o in outcomes) for status in ("ok", "failed", "error")}
    click.echo(json.dumps({"ok": counts["ok"] == len(outcomes), "summary": counts, "models": models}, indent=2))


def _exit_code(outcomes: list) -> int:
    if any(o["status"] == "error" for o in outcomes):
        return EXIT_ERROR
    return EXIT_PARITY if any(o["status"] == "failed" for o in outcomes) else EXIT_OK


def parse_sizes(batch_sizes, dim_sizes) -> dict:
    """``--batch-sizes 1,4,16`` and ``--sizes seq=8,32`` as ``{"batch": [1, 4, 16], "seq": [8, 32]}``."""
    specs = ([f"batch={batch_sizes}"] if batch_sizes else []) + list(dim_sizes)
    sizes = {}
    for spec in specs:
        dim, _, listed = spec.partition("=")
        try:
            values = [int(v) for v in listed.split(",")]
        except ValueError:
            values = []
        if not dim.strip() or not values or min(values) < 1:
            raise InputSpecError(f"bad sizes {spec!r}: write DIM=N,N,... with positive sizes, e.g. seq=8,32 "
                                 f"(or --batch-sizes 1,4,16)")
        sizes[dim.strip()] = values
    return sizes
