"""``graphnn export``: MODEL_PY -> OUT.onnx, parity-checked."""
import os
import sys

import click

import graphnn
from . import options
from .output import describe_inputs, print_report, progress
from graphnn import progress as live_progress, timings
from graphnn.errors import GraphnnError, InputSpecError
from graphnn.hf.folder import load_parts
from graphnn.loader import load
from .parts import export_folder


@click.command()
@options.model_source
@click.argument("out_onnx", type=click.Path(writable=True))
@options.lowering
@options.target
@click.option("--no-parity", is_flag=True, help="Write the file without checking it against PyTorch.")
@options.device
@options.tolerances
@options.compression
@click.option("--timings", "show_timings", is_flag=True,
              help="Print seconds and peak memory per stage (load, trace, each pass, lower, check, parity, write).")
def export(model_py, loading, out_onnx, frontend, opset, no_optimize, target, no_parity, device, atol, rtol,
           quantize, precision, quantize_tolerance, float16_io, show_timings):
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
      graphnn export t5_dir/ t5_onnx/ --task text2text-generation-with-past   (a folder: encoder + decoder)
      graphnn export model.py int8.onnx --quantize dynamic --quantize-tolerance 0.02
      graphnn export model.py half.onnx --precision float16
    """
    parts = load_parts(model_py, loading)
    if parts is not None:
        if quantize or precision != "float32":
            raise InputSpecError("--quantize / --precision convert one file; a folder of several files "
                                 "(encoder + decoder) is not converted yet: export it without them")
        settings = dict(opset=opset, frontend=frontend, optimize_graph=not no_optimize, check=not no_parity,
                        device=device, atol=atol, rtol=rtol, target=target)
        with live_progress.task("export"), timings.recording(show_timings) as recorded:
            ok = export_folder(parts, model_py, out_onnx, **settings)
        if show_timings:
            click.echo(recorded.table(), err=True)
        sys.exit(0 if ok else 1)
    if os.path.isdir(out_onnx):
        raise GraphnnError(f"{out_onnx} is a directory: give a file name such as model.onnx")
    with live_progress.task("export"), timings.recording(show_timings) as recorded:
        with timings.stage("load"):
            loaded, model_inputs = load(model_py, loading)
        progress(f"loaded {loaded.model_name} from {model_py}; inputs: {describe_inputs(model_inputs)}")
        result = graphnn.export(
            loaded.model, model_inputs, out_onnx, opset=opset, frontend=frontend, optimize_graph=not no_optimize,
            check=not no_parity, device=device, atol=atol, rtol=rtol, quantize=quantize, precision=precision,
            quantize_tolerance=quantize_tolerance, float16_io=float16_io, log=progress, target=target,
        )
    if show_timings:
        click.echo(recorded.table(), err=True)
    if result.report is not None:
        print_report(result.report)
    if result.compression is not None:
        click.echo("\n".join(result.compression.lines()))
        if not result.compression.passed:
            click.echo(f"error: the {result.compression.kind.split(' (')[0]} file is not within tolerance even with "
                       f"every layer kept float32: {out_onnx} was not written (loosen --quantize-tolerance)", err=True)
            sys.exit(1)
    if not result.ok:
        click.echo(f"error: parity check failed: {out_onnx} was not written "
                   f"(inspect with `graphnn check`, or write anyway with --no-parity)", err=True)
        sys.exit(1)
    size_kb = sum(os.path.getsize(f) for f in result.written) / 1024
    extra = "".join(f" + {os.path.basename(f)}" for f in result.written
                    if os.path.basename(f) != os.path.basename(out_onnx))
    click.echo(f"wrote {out_onnx}{extra} ({size_kb:,.1f} KB, opset {opset}, "
               f"{result.node_count} ONNX nodes)")
