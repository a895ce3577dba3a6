"""``graphnn graph -o model.html`` and ``graphnn check --html``: one self-contained page.

The page embeds the JSON view (docs/graph-json.md) plus the module groups (``groups``) and,
for a check report, each layer's parity error (``graphnn.checking.layer_errors``); Cytoscape.js with
its dagre layout (vendored in ``assets/`` with their licences) is inlined, so the file opens
from disk with no network and no server. The page's own code is ``assets/page.js``.
"""
from __future__ import annotations

import json
import math
from importlib import resources
from typing import Optional

from graphnn.checking.layer_errors import measure
from graphnn.view.from_ir import view_of_graph
from graphnn.view.groups import grouping
from graphnn.view.jsonview import to_json
from graphnn.view.model import View

LIBRARIES = ("cytoscape.min.js", "cytoscape-dagre.min.js")


def _asset(name: str) -> str:
    return resources.files("graphnn.view").joinpath("assets", name).read_text(encoding="utf-8")


def page_data(view: View, errors=None, report=None) -> dict:
    """What the page script reads: the JSON view, groups, and errors when checked."""
    document = json.loads(to_json(view, indent=None))
    found = grouping(view)
    document["groups"] = [{"id": g.id, "path": g.path, "class": g.cls, "parent": g.parent, "repeat": g.repeat}
                          for g in found.groups]
    document["parents"] = found.parent_of_node
    if errors is not None:
        document["errors"] = _errors(errors)
    if report is not None:
        document["report"] = {"ok": report.ok, "summary": report.summary(), "lines": report.lines()}
    return document


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def _errors(errors) -> dict:
    """Per IR node: its call's error; the first layer past tolerance and the nodes it feeds."""
    by_node = {}
    for layer in errors.layers:
        entry = {"layer": layer.node, "module": layer.module, "max_abs": _finite(layer.max_abs),
                 "max_rel": _finite(layer.max_rel), "limit": layer.limit, "ratio": _finite(layer.ratio),
                 "ok": layer.ok}
        for name in layer.nodes:
            by_node[name] = entry
    first = errors.first_bad
    return {"atol": errors.atol, "rtol": errors.rtol, "nodes": by_node,
            "first_bad": first.node if first else None, "first_bad_nodes": first.nodes if first else [],
            "downstream": errors.downstream}


def _script_safe(text: str) -> str:
    """JSON inside <script>: no ``</script>`` or ``<!--`` can end it early."""
    return text.replace("<", "\\u003c")


def to_html(view: View, errors=None, report=None) -> str:
    data = json.dumps(page_data(view, errors, report), default=str)
    libraries = "\n".join(f"<script>{_asset(name)}</script>" for name in LIBRARIES)
    title = f"{view.name} - graphnn" + (" check" if errors is not None else "")
    return (_asset("page.html")
            .replace("{{TITLE}}", _html_escape(title))
            .replace("{{STYLE}}", _asset("page.css"))
            .replace("{{LIBRARIES}}", libraries)
            .replace("{{DATA}}", _script_safe(data))
            .replace("{{SCRIPT}}", _asset("page.js")))


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_page(model, built, report) -> str:
    """``graphnn check --html``: the page of the unoptimized IR, each layer coloured by its
    parity error on the inputs of the first failing run (the example when all pass)."""
    failing = next((run for run in report.runs if not run.ok and run.inputs), None)
    inputs = built.inputs.with_examples(failing.inputs) if failing is not None else built.inputs
    errors = measure(model, built, inputs, report.atol, report.rtol)
    return to_html(view_of_graph(errors.graph, model), errors, report)
