"""``graphnn graph``: what are the layers in my model? A table, Graphviz DOT or a picture, JSON.

MODEL_PY is traced in graph-only mode (a layer graphnn cannot export yet is an opaque node
with the shapes a real forward pass gave); an ``.onnx`` file is read as it is.
"""
import os
import sys

import click

import graphnn
from . import options
from .output import progress
from .parts import traced_parts
from graphnn.errors import InputSpecError
from graphnn.frontend.rules import opaque_layers
from graphnn.hf.folder import load_parts
from graphnn.loader import load
from graphnn.onnxfile.read import load_checked
from graphnn.view import view_of_graph, view_of_onnx
from graphnn.view.changes import optimize_with_marks
from graphnn.view.dot import to_dot
from graphnn.view.jsonview import to_json
from graphnn.view.render import view_bytes, write_atomic
from graphnn.view.table import render as table_text


@click.command()
@options.model_source
@click.option("--depth", type=click.IntRange(min=1), default=None, metavar="N",
              help="Collapse the module tree below depth N: a deeper module is one row / one node "
                   "with summed params and MACs (e.g. --depth 2: a ResNet block is one row).")
@click.option("--dot", is_flag=True, help="Print Graphviz DOT instead of the table.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (nodes, edges, shapes, params, module tree; docs/graph-json.md).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write to a file, format from its extension: .svg/.png/.pdf (rendered by Graphviz's "
                   "dot), .dot/.gv, .json or .txt (the table).")
@click.option("--optimize", is_flag=True,
              help="Show the graph after the optimizing passes (what export lowers), each change marked.")
def graph(model_py, loading, frontend, depth, dot, as_json, output, optimize):
    """Show the layers of MODEL_PY (or of an .onnx file): one row per layer in execution order,
    indented by module, with type, output shape, params, trainable, MACs and source line.

    \b
    Examples:
      graphnn graph fixtures/simple_cnn.py
      graphnn graph fixtures/simple_cnn.py --depth 1 -o simple_cnn.svg
      graphnn graph model.onnx
    """
    if dot and as_json:
        raise InputSpecError("--dot and --json: choose one")
    parts = None if model_py.lower().endswith(".onnx") else load_parts(model_py, loading)
    if parts is not None:
        _show_parts(parts, frontend, depth, dot, as_json, output, optimize)
        return
    if model_py.lower().endswith(".onnx"):
        _refuse_model_options(loading, optimize)
        view = view_of_onnx(load_checked(model_py), os.path.splitext(os.path.basename(model_py))[0])
    else:
        view = _traced_view(model_py, loading, frontend, optimize)
    if output:
        _write(view, output, depth)
        return
    text = to_dot(view, depth) if dot else to_json(view) + "\n" if as_json else table_text(view, depth) + "\n"
    sys.stdout.write(text)


def _traced_view(model_py, loading, frontend, optimize):
    loaded, model_inputs = load(model_py, loading)
    with opaque_layers():
        ir = graphnn.trace(loaded.model, model_inputs, frontend=frontend, log=progress)
    marks = None
    if optimize:
        ir, marks = optimize_with_marks(ir)
    return view_of_graph(ir, loaded.model, marks)


def _show_parts(parts, frontend, depth, dot, as_json, output, optimize):
    """Each file's table, under its name (a task written as several files)."""
    if dot or as_json or output or optimize:
        raise InputSpecError(f"--dot, --json, -o and --optimize show one graph; this task has "
                             f"{len(parts)} ({', '.join(p.file for p in parts)}): export it and pass one .onnx file")
    for file, ir in traced_parts(parts, frontend):
        sys.stdout.write(f"{file}:\n" + table_text(view_of_graph(ir, None), depth) + "\n")


def _refuse_model_options(loading, optimize):
    given = [name for name, value in (("--model", loading.model_name), ("--weights", loading.weights),
                                      ("--trust-pickle", loading.trust_pickle), ("--input", loading.input_specs),
                                      ("--dynamic", loading.dynamic_specs), ("--static", loading.static),
                                      ("--optimize", optimize)) if value]
    if given:
        raise InputSpecError(f"{', '.join(given)} apply to a MODEL_PY, not to an ONNX file (shown as it is)")


def _write(view, path, depth):
    data = view_bytes(view, path, depth)
    write_atomic(path, data)
    progress(f"wrote {path} ({len(data):,} bytes)")
