"""Writing what ``graphnn graph -o`` asks for: DOT text, a picture rendered by Graphviz, JSON,
the table, or the interactive HTML page.

The format is the file's extension; ``WRITERS`` maps each to the function making its bytes.
Files are written whole or not at all (a temporary folder beside the target, then renamed:
``onnxfile.atomic``). Rendering needs Graphviz's ``dot`` program; when it is missing the error
says how to install it and that ``-o model.dot`` needs nothing.
"""
from __future__ import annotations

import os

import graphviz

from graphnn.errors import GraphnnError
from graphnn.onnxfile.atomic import write_bytes
from graphnn.view import html
from graphnn.view.dot import to_dot, to_graphviz
from graphnn.view.jsonview import to_json
from graphnn.view.model import View
from graphnn.view.table import render as table_text

PICTURES = ("svg", "png", "pdf")
FORMATS = ("dot", "gv", "json", "txt", "html") + PICTURES


class RenderError(GraphnnError):
    """A picture cannot be made (no Graphviz, an unknown extension)."""


def output_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in FORMATS:
        raise RenderError(f"cannot write {path!r}: use a .{', .'.join(FORMATS)} file")
    return ext


def render(dot: graphviz.Digraph, fmt: str) -> bytes:
    """The picture's bytes, from Graphviz's ``dot``."""
    try:
        return dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RenderError(
            f"a .{fmt} picture needs Graphviz's `dot` program, which is not installed: "
            "apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS), "
            "conda install graphviz; or write DOT with -o model.dot") from None
    except graphviz.CalledProcessError as exc:
        raise RenderError(f"Graphviz's dot failed: {exc.stderr.decode(errors='replace').strip()}") from None


def _picture(fmt: str):
    return lambda view, depth: render(to_graphviz(view, depth), fmt)


WRITERS = {
    **{fmt: _picture(fmt) for fmt in PICTURES},
    "dot": lambda view, depth: to_dot(view, depth).encode(),
    "gv": lambda view, depth: to_dot(view, depth).encode(),
    "json": lambda view, depth: (to_json(view) + "\n").encode(),
    "txt": lambda view, depth: (table_text(view, depth) + "\n").encode(),
    "html": lambda view, depth: html.to_html(view).encode(),  # groups collapse in the page: no --depth
}


def view_bytes(view: View, path: str, depth=None) -> bytes:
    """The file ``-o path`` asks for, in the format its extension names."""
    return WRITERS[output_format(path)](view, depth)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all, into a folder that exists."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RenderError(f"cannot write {path!r}: folder {folder} does not exist")
    write_bytes(path, data)
