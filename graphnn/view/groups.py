"""Module groups for the interactive page, and runs of identical repeated blocks.

A module path is a group when it holds other modules' nodes or, in one call, several nodes of
its own (a single-node layer is drawn as that node; a layer called twice is two nodes, no
group). Consecutive sibling groups ``encoder.layer.0``, ``encoder.layer.1``... of one class
whose nodes are the same ops under the same relative paths are identical blocks: they go into
one repeat group (``encoder.layer.0..11``, x12) that the page shows collapsed. "Identical" is
read off the IR, not the class name alone, so a first ResNet block with a downsample stays
apart from the blocks after it.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from graphnn.view.model import View
from graphnn.view.tree import ancestors


@dataclass
class Group:
    id: str
    path: str  # module path (a repeat group: the run, ``encoder.layer.0..11``)
    cls: Optional[str]
    parent: Optional[str] = None  # group id
    repeat: int = 0  # >0: a run of that many identical blocks
    signature: tuple = field(default=(), repr=False)


@dataclass
class Grouping:
    groups: list[Group]  # outer groups first
    parent_of_node: dict  # node id -> group id or None


def group_id(path: str) -> str:
    return f"g:{path}"


def grouping(view: View) -> Grouping:
    """The page's groups, with identical consecutive blocks gathered under repeat groups."""
    nodes = view.layer_nodes()
    runs = Counter(n.module for i, n in enumerate(nodes) if n.module and (i == 0 or nodes[i - 1].module != n.module))
    per_module = Counter(n.module for n in nodes if n.module if runs[n.module] == 1)
    paths: dict[str, None] = {}  # ordered by first node
    for node in nodes:
        if node.module:
            for path in ancestors(node.module) + ([node.module] if per_module[node.module] > 1 else []):
                paths.setdefault(path, None)
    groups = {p: Group(group_id(p), p, view.modules.get(p)) for p in sorted(paths, key=lambda p: p.count("."))}
    for group in groups.values():
        outer = [a for a in ancestors(group.path) if a in groups]
        group.parent = groups[outer[-1]].id if outer else None
    parent_of_node = {}
    signatures: dict[str, list] = {p: [] for p in groups}
    for node in nodes:
        chain = [p for p in ancestors(node.module) + [node.module] if p in groups] if node.module else []
        parent_of_node[node.id] = groups[chain[-1]].id if chain else None
        for path in chain:
            signatures[path].append((node.module[len(path):], node.op))
    for path, signature in signatures.items():
        groups[path].signature = tuple(signature)
    ordered = [groups[p] for p in paths if p in groups]
    ordered.sort(key=lambda g: g.path.count("."))
    return Grouping(ordered + _repeats(ordered), parent_of_node)


_INDEXED = re.compile(r"^(?:(.*)\.)?(\d+)$")


def _repeats(groups: list[Group]) -> list[Group]:
    """Runs of >= 2 consecutive identical sibling blocks, each under a new repeat group."""
    found = []
    run: list[Group] = []
    for group in groups + [Group("", "", None)]:
        if run and _continues(run[-1], group):
            run.append(group)
            continue
        if len(run) >= 2:
            found.append(_repeat_group(run))
        run = [group] if _INDEXED.match(group.path) else []
    return found


def _continues(last: Group, group: Group) -> bool:
    a, b = _INDEXED.match(last.path), _INDEXED.match(group.path)
    return bool(a and b and a.group(1) == b.group(1) and int(b.group(2)) == int(a.group(2)) + 1
                and last.parent == group.parent and last.cls == group.cls and last.signature == group.signature)


def _repeat_group(run: list[Group]) -> Group:
    first, last = _INDEXED.match(run[0].path), _INDEXED.match(run[-1].path)
    path = (f"{first.group(1)}." if first.group(1) else "") + f"{first.group(2)}..{last.group(2)}"
    repeat = Group(f"r:{path}", path, run[0].cls, run[0].parent, repeat=len(run))
    for member in run:
        member.parent = repeat.id
    return repeat
