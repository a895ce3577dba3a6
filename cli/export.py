"""``graphnn export``: MODEL_PY -> OUT.onnx, parity-checked."""
import os
import sys

import click

import graphnn
from . import options
from .output import describe_inputs, print_report, progress
from graphnn import progress as live_progress, timings
from graphnn.errors import GraphnnError
from graphnn.loader import load


@click.command()
@options.model_source
@click.argument("out_onnx", type=click.Path(dir_okay=False, writable=True))
@options.lowering
@options.target
@click.option("--no-parity", is_flag=True, help="Write the file without checking it against PyTorch.")
@options.device
@options.tolerances
@click.option("--timings", "show_timings", is_flag=True,
              help="Print seconds and peak memory per stage (load, trace, each pass, lower, check, parity, write).")
def export(model_py, loading, out_onnx, frontend, opset, no_optimize, target, no_parity, device, atol, rtol, show_timings):
    """Export the model in MODEL_PY to OUT_ONNX through graphnn's IR.

    MODEL_PY is a Python file that builds the model, a torch.export.save'd program
    (.pt2), or with --trust-pickle a whole module saved with torch.save(model).

    The ONNX comes from graphnn's own lowering (not torch.onnx). Parity with PyTorch
    is checked at the example batch and a second batch size before the file is
    written; on a mismatch nothing is written and the exit code is 1.

    \b
    Examples:
      graphnn export fixtures/simple_cnn.py simple_cnn.onnx
      graphnn export model.py out.onnx --input 1x3x224x224 --opset 17
      graphnn export model.py out.onnx --static --no-optimize
      graphnn export bert.py bert.onnx --target ort-cpu   (onnxruntime's fused attention)
      graphnn export net.py net.onnx --weights net.pt      (a trained state dict)
      graphnn export model.pt2 model.onnx                  (a torch.export.save'd program)
      graphnn export model.pt model.onnx --trust-pickle --input 1x3x32x32   (torch.save(model))
    """
    if os.path.isdir(out_onnx):
        raise GraphnnError(f"{out_onnx} is a directory: give a file name such as model.onnx")
    with live_progress.task("export"), timings.recording(show_timings) as recorded:
        with timings.stage("load"):
            loaded, model_inputs = load(model_py, loading)
        progress(f"loaded {loaded.model_name} from {model_py}; inputs: {describe_inputs(model_inputs)}")
        result = graphnn.export(
            loaded.model, model_inputs, out_onnx, opset=opset, frontend=frontend, optimize_graph=not no_optimize,
            check=not no_parity, device=device, atol=atol, rtol=rtol, log=progress, target=target,
        )
    if show_timings:
        click.echo(recorded.table(), err=True)
    if result.report is not None:
        print_report(result.report)
    if not result.ok:
        click.echo(f"error: parity check failed: {out_onnx} was not written "
                   f"(inspect with `graphnn check`, or write anyway with --no-parity)", err=True)
        sys.exit(1)
    size_kb = sum(os.path.getsize(f) for f in result.written) / 1024
    extra = "".join(f" + {os.path.basename(f)}" for f in result.written
                    if os.path.basename(f) != os.path.basename(out_onnx))
    click.echo(f"wrote {out_onnx}{extra} ({size_kb:,.1f} KB, opset {opset}, "
               f"{result.node_count} ONNX nodes)")
