"""The layer table of ``graphnn graph``: torchinfo's question answered from the graph.

One row per layer call in execution order, indented by module depth, under a header row
per enclosing module (its numbers summed over the block); then the totals: parameters
(trainable / frozen, tied weights once), their memory, multiply-accumulates for the example
input, and the input and output shapes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from graphnn.view.model import View, shape_text
from graphnn.view.tree import Call, ancestors, calls, parents

HEADER = ("Layer", "Type", "Output shape", "Params", "Train", "MACs", "Source")


@dataclass
class Row:
    name: str
    indent: int
    kind: str
    shape: str = ""
    params: dict = field(default_factory=dict)
    macs: Optional[int] = None
    source: str = ""
    notes: list = field(default_factory=list)

    def add(self, call: Call, shape: str) -> None:
        """A header row sums the calls of its block."""
        self.params.update(call.params)
        if call.macs is not None:
            self.macs = (self.macs or 0) + call.macs
        self.shape = shape

    def cells(self) -> tuple:
        count = sum(p.numel for p in self.params.values())
        return ("  " * self.indent + self.name, self.kind, self.shape, f"{count:,}" if count else "",
                _trainable(self.params.values()), f"{self.macs:,}" if self.macs else "", self.source)


def _trainable(params) -> str:
    flags = {p.trainable for p in params}
    if not flags:
        return ""
    if flags == {True}:
        return "yes"
    if flags == {False}:
        return "frozen"
    return "?" if flags == {None} else "mixed"


def _depth(path: Optional[str]) -> int:
    return len(path.split(".")) if path else 0


def _call_shape(view: View, call: Call) -> str:
    return ", ".join(shape_text(view.tensors[o].shape) for o in call.last.outputs)


def _call_kind(view: View, call: Call, containers: set[str]) -> str:
    """The layer class; for a block's own ops (its adds and relus beside its layers) and the
    model's forward, the ops themselves."""
    if call.module and (call.collapsed or call.module not in containers):
        return view.modules.get(call.module) or call.nodes[0].kind
    ops = list(dict.fromkeys(n.kind for n in call.nodes))
    return ", ".join(ops[:3]) + (f" (+{len(ops) - 3} more)" if len(ops) > 3 else "")


def rows(view: View, depth: Optional[int] = None) -> list[Row]:
    """Input rows, then header and call rows in execution order."""
    out = [Row(name, 0, "input", shape_text(view.tensors[name].shape), source=view.tensors[name].dtype or "")
           for name in view.inputs]
    all_calls = calls(view, depth)
    containers = parents(all_calls)
    open_headers: list[Row] = []
    for call in all_calls:
        needed = ancestors(call.module) + ([call.module] if call.module in containers else [])
        kept = 0
        while kept < min(len(open_headers), len(needed)) and open_headers[kept].name == needed[kept]:
            kept += 1
        del open_headers[kept:]
        for path in needed[kept:]:
            header = Row(path, _depth(path) - 1, view.modules.get(path, ""))
            open_headers.append(header)
            out.append(header)
        shape = _call_shape(view, call)
        for header in open_headers:
            header.add(call, shape)
        name = call.module or call.nodes[-1].name
        indent = _depth(call.module) - (0 if call.module in containers else 1) if call.module else 0
        row = Row(name, max(indent, 0), _call_kind(view, call, containers), shape, dict(call.params),
                  call.macs, call.source or "", call.notes)
        out.append(row)
    return out


def render(view: View, depth: Optional[int] = None) -> str:
    """The table and its totals, as text."""
    table_rows = rows(view, depth)
    cells = [r.cells() for r in table_rows]
    notes = any(r.notes for r in table_rows)
    header = HEADER + (("Notes",) if notes else ())
    if notes:
        cells = [c + ("; ".join(r.notes),) for c, r in zip(cells, table_rows)]
    if all(p.trainable is None for r in table_rows for p in r.params.values()):  # an ONNX file
        keep = [i for i, name in enumerate(header) if name != "Train"]
        header, cells = tuple(header[i] for i in keep), [tuple(c[i] for i in keep) for c in cells]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    line = lambda c: "  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip()  # noqa: E731
    rule = "-" * len(line(tuple("-" * w for w in widths)))
    return "\n".join([line(header), rule, *(line(c) for c in cells), rule, *totals(view)])


def totals(view: View) -> list[str]:
    read = view.param_totals()
    model = view.totals
    lines = ["Inputs: " + ", ".join(_tensor(view, n) for n in view.inputs),
             "Outputs: " + ", ".join(_tensor(view, n, label) for n, label in
                                     zip(view.outputs, view.output_names or view.outputs))]
    if model is not None:
        unread = 0 if view.optimized else model.total - read.total
        lines.append(f"Total params: {model.total:,} (trainable: {model.trainable:,}, frozen: {model.frozen:,}; "
                     f"tied weights once)" + (f"; {unread:,} not read by forward" if unread > 0 else ""))
        lines.append(f"Param memory: {human_bytes(model.nbytes)}")
    else:
        lines.append(f"Total params: {read.total:,} (initializer elements; shared ones once)")
        lines.append(f"Param memory: {human_bytes(read.nbytes)}")
    macs = sum(n.macs for n in view.nodes if n.macs)
    unknown = sum(1 for n in view.nodes if n.macs is None and not n.weight and n.op not in ("constant",))
    example = ", ".join("x".join(str(view.size(d)) for d in view.tensors[n].shape or ()) for n in view.inputs)
    lines.append(f"MACs: {macs:,}" + (f" ({human(macs)})" if macs >= 1000 else "") + f" for input {example}"
                 + (f"; {unknown} op(s) not counted (shapes unknown)" if unknown else ""))
    lines.append(f"{len(view.layer_nodes())} nodes" + (" (ONNX file)" if view.origin == "onnx" else "")
                 + ("; dynamic dims (example size): " + ", ".join(f"{k}={v}" for k, v in view.symbols.items())
                    if view.symbols else ""))
    lines.extend(view.notes)
    return lines


def _tensor(view: View, name: str, label: Optional[str] = None) -> str:
    tensor = view.tensors[name]
    return f"{label or name} {shape_text(tensor.shape)} {tensor.dtype or ''}".rstrip()


def human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return str(int(count))


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"
