"""Models exported as several files (``graphnn.hf.seq2seq``: an encoder and a decoder
step): ``export`` writes the folder, ``check`` reports each file's parity, ``graph`` shows
each traced part. The commands hand over here when ``load_parts`` finds such a task."""
import os

import click

import graphnn
from .output import describe_inputs, print_report, progress
from graphnn.dynamic import inferred_inputs
from graphnn.errors import GraphnnError, InputSpecError
from graphnn.hf.folder_export import export_parts
from graphnn.hf.seq2seq import COPIED_FILES


def export_folder(parts: list, source: str, out_dir: str, **options) -> bool:
    """Export every part into ``out_dir``; False (nothing written) when one fails parity."""
    if out_dir.lower().endswith(".onnx") or os.path.isfile(out_dir):
        raise GraphnnError(f"{out_dir}: this task writes a folder ({', '.join(p.file for p in parts)}); "
                           f"give a folder name such as {os.path.splitext(out_dir)[0] or 'onnx'}/")
    for part in parts:
        progress(f"part {part.file}: inputs {', '.join(part.examples)}")
    results, written = export_parts(parts, out_dir, source, COPIED_FILES, log=progress, **options)
    for part, result in zip(parts, results):
        if result.report is not None:
            click.echo(f"{part.file}:")
            print_report(result.report)
    if not written:
        click.echo(f"error: parity check failed: {out_dir} was not written "
                   f"(inspect with `graphnn check {source}`, or write anyway with --no-parity)", err=True)
        return False
    size_kb = sum(os.path.getsize(f) for f in written) / 1024
    nodes = ", ".join(f"{p.file} {r.node_count} ONNX nodes" for p, r in zip(parts, results))
    click.echo(f"wrote {out_dir}/ ({', '.join(os.path.basename(f) for f in sorted(written))}; "
               f"{size_kb:,.1f} KB; {nodes})")
    return True


def check_parts(parts: list, sizes: dict, **options) -> bool:
    """Each part's parity report under its file name; True when all pass. ``sizes`` (--sizes,
    --batch-sizes) apply to the parts that have the dim."""
    dims = [{name for spec in part.dynamic_dims.values() for name in spec.values()} for part in parts]
    unknown = sorted(set(sizes) - set().union(*dims))
    if unknown:
        raise InputSpecError(f"sizes of {', '.join(unknown)} asked for, but no file has that dynamic dim "
                             f"(dynamic dims: {', '.join(sorted(set().union(*dims)))})")
    ok = True
    for part, own in zip(parts, dims):
        inputs = inferred_inputs(part.model, part.examples, part.dynamic_dims)
        progress(f"checking {part.file}; inputs: {describe_inputs(inputs)}")
        report = graphnn.check_parity(part.model, inputs, sizes={d: v for d, v in sizes.items() if d in own},
                                      **options)
        click.echo(f"{part.file}:")
        print_report(report)
        ok = ok and report.ok
    return ok


def traced_parts(parts: list, frontend: str) -> list:
    """(file name, IR) of each part, traced in graph-only mode."""
    from graphnn.frontend.rules import opaque_layers
    traced = []
    for part in parts:
        with opaque_layers():
            inputs = inferred_inputs(part.model, part.examples, part.dynamic_dims)
            traced.append((part.file, graphnn.trace(part.model, inputs, frontend=frontend, log=progress)))
    return traced
