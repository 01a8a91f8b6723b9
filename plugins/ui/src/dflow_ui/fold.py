"""A run's nodes folded into the view the page draws: a bounded tree and the graph's edges.

A node with more children than ``fold_at`` (the slices of a 10,000-way fan-out) is
*folded*: the view keeps the node with counts of its children by phase and a few
notable children (failed first, then running), and drops the children themselves.
The page pages through them on demand. So what the server holds, and sends, grows
with the shape of the workflow, not with the number of slices.

Edges come from the spec: in a ``Steps`` template each parallel group follows the
one before, in a ``DAG`` template each task follows its dependencies. A step that
fans out ends where its slices end, so the next step hangs below all of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from dflow.backend import StepRecord

from .security import Redactor
from .views import FINAL_PHASES, MAX_MESSAGE_CHARS, node_row

__all__ = ["RunView", "fold_run", "page_children", "FOLD_AT", "NOTABLE", "MAX_FAILED"]

#: more children than this and a node is folded into counts by phase
FOLD_AT = 30
#: failed or running children kept visible inside a folded group
NOTABLE = 10
#: failed steps listed at the top of a failed run
MAX_FAILED = 20
#: the graph keeps at most this many edges (then a fan-in is drawn from the step itself)
MAX_EDGES = 5000
_BAD = ("Failed", "Error")
_CONTAINERS = ("Steps", "DAG")
_FANOUTS = ("StepGroup", "TaskGroup", "Retry")


@dataclass
class RunView:
    """What the page shows of one run at one moment (immutable once built)."""

    root: Optional[str]
    nodes: Dict[str, Dict[str, Any]]
    edges: List[Tuple[str, str]]
    counts: Dict[str, int]
    failed: List[Dict[str, Any]]
    failed_total: int
    steps_total: int
    notable: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)

    def summary(self) -> Dict[str, Any]:
        """Counts by phase, the failed steps (at most ``MAX_FAILED``) and the number of steps."""
        return {"counts": self.counts, "failed": self.failed, "failed_total": self.failed_total,
                "steps_total": self.steps_total}


def _children_of(records: Sequence[StepRecord]) -> Dict[Optional[str], List[StepRecord]]:
    # parent links are authoritative; list_steps gives nodes in the order they started
    kids: Dict[Optional[str], List[StepRecord]] = {}
    for r in records:
        kids.setdefault(r.parent, []).append(r)
    return kids


def _group_summary(children: List[StepRecord]) -> Dict[str, Any]:
    counts = Counter(c.phase for c in children)
    started = [c.started_at for c in children if c.started_at]
    done = all(c.phase in FINAL_PHASES for c in children)
    finished = [c.finished_at for c in children if c.finished_at]
    return {"total": len(children), "counts": dict(counts), "started": min(started) if started else None,
            "finished": max(finished) if done and finished else None}


def fold_run(records: Sequence[StepRecord], spec: Any, redact: Redactor, fold_at: int = FOLD_AT) -> RunView:
    """The folded view of a run from its step records and its spec (``None`` when unknown)."""
    by_id = {r.id: r for r in records}
    kids = _children_of(records)
    roots = [r for r in records if r.parent is None or r.parent not in by_id]
    nodes: Dict[str, Dict[str, Any]] = {}
    notable: Dict[str, List[Dict[str, Any]]] = {}
    visible_kids: Dict[str, List[StepRecord]] = {}
    stack: List[StepRecord] = list(reversed(roots))
    while stack:
        r = stack.pop()
        row = node_row(r, redact)
        children = kids.get(r.id, [])
        if len(children) > fold_at:
            row["group"] = _group_summary(children)
            picked = [c for c in children if c.phase in _BAD][:NOTABLE]
            if len(picked) < NOTABLE:
                picked += [c for c in children if c.phase == "Running"][: NOTABLE - len(picked)]
            notable[r.id] = [node_row(c, redact) for c in picked]
            row["kids"] = []
        else:
            row["kids"] = [c.id for c in children]
            visible_kids[r.id] = children
            stack.extend(reversed(children))
        nodes[r.id] = row
    pods = [r for r in records if r.type == "Pod"]
    counts = dict(Counter(r.phase for r in pods))
    bad = [r for r in pods if r.phase in _BAD]
    failed = [{"id": r.id, "display": redact.text(r.display_name), "visible": r.id in nodes,
               "message": redact.text(r.message[:MAX_MESSAGE_CHARS]) if r.message else None} for r in bad[:MAX_FAILED]]
    edges = _edges(roots, visible_kids, nodes, spec)
    return RunView(root=roots[0].id if roots else None, nodes=nodes, edges=edges, counts=counts,
                   failed=failed, failed_total=len(bad), steps_total=len(pods), notable=notable)


# --------------------------------------------------------------------------- graph edges


def _template(spec: Any, name: Optional[str]) -> Any:
    if spec is None or not name:
        return None
    try:
        return spec.template(name)
    except KeyError:
        return None


def _edges(roots: List[StepRecord], visible_kids: Dict[str, List[StepRecord]], nodes: Dict[str, Dict[str, Any]],
           spec: Any) -> List[Tuple[str, str]]:
    edges: List[Tuple[str, str]] = []
    seen: Set[Tuple[str, str]] = set()
    exits_memo: Dict[str, List[str]] = {}

    def add(a: str, b: str) -> None:
        """One edge, once, up to ``MAX_EDGES``."""
        if (a, b) not in seen and len(edges) < MAX_EDGES:
            seen.add((a, b))
            edges.append((a, b))

    def order(node: Dict[str, Any]) -> List[List[StepRecord]]:
        """The node's visible children as ranks: each rank follows every one before it."""
        children = visible_kids.get(node["id"], [])
        tmpl = _template(spec, node.get("template"))
        by_name: Dict[str, List[StepRecord]] = {}
        for c in children:
            by_name.setdefault(c.name, []).append(c)
        if node["type"] == "Steps" and getattr(tmpl, "kind", None) == "steps":
            ranks = [[c for s in group for c in by_name.get(s.name, [])] for group in tmpl.steps]
            return [rk for rk in ranks if rk]
        return [children] if children else []

    def dag_links(node: Dict[str, Any]) -> Optional[List[Tuple[List[StepRecord], StepRecord]]]:
        """For a DAG node: each visible task with the visible tasks it depends on (``None`` otherwise)."""
        tmpl = _template(spec, node.get("template"))
        if node["type"] != "DAG" or getattr(tmpl, "kind", None) != "dag":
            return None
        by_name = {c.name: c for c in visible_kids.get(node["id"], [])}
        deps = {t.name: [by_name[d] for d in t.dependencies if d in by_name] for t in tmpl.tasks}
        return [(deps.get(c.name, []), c) for c in visible_kids.get(node["id"], [])]

    def exits(node_id: str, depth: int = 0) -> List[str]:
        """Where a node ends in the graph: itself, or the ends of what it fans out to or contains."""
        if node_id in exits_memo:
            return exits_memo[node_id]
        node = nodes[node_id]
        result = [node_id]
        if visible_kids.get(node_id) and depth < 200:
            if node["type"] in _FANOUTS:
                result = [e for c in visible_kids[node_id] for e in exits(c.id, depth + 1)]
            elif node["type"] == "Steps":
                ranks = order(node)
                if ranks:
                    result = [e for c in ranks[-1] for e in exits(c.id, depth + 1)]
            elif node["type"] == "DAG":
                links = dag_links(node) or []
                used = {d.id for deps, _c in links for d in deps}
                result = [e for _deps, c in links if c.id not in used for e in exits(c.id, depth + 1)] or [node_id]
        exits_memo[node_id] = result or [node_id]
        return exits_memo[node_id]

    def connect(sources: Iterable[str], target: str, fallback: str) -> None:
        """Edges from ``sources`` to ``target``; a wide fan-in starts at ``fallback`` instead."""
        src = list(sources)
        if len(src) > 50:  # a wide fan-in: draw it from the step, not from every slice
            src = [fallback]
        for s in src:
            add(s, target)

    for node_id, node in nodes.items():
        if node_id not in visible_kids or not visible_kids[node_id]:
            continue
        links = dag_links(node)
        if links is not None:
            for deps, child in links:
                if not deps:
                    add(node_id, child.id)
                for d in deps:
                    connect(exits(d.id), child.id, d.id)
            continue
        ranks = order(node)
        if node["type"] == "Steps" and ranks:
            for c in ranks[0]:
                add(node_id, c.id)
            for prev, cur in zip(ranks, ranks[1:]):
                for c in cur:
                    for p in prev:
                        connect(exits(p.id), c.id, p.id)
        else:
            for c in visible_kids[node_id]:
                add(node_id, c.id)
    return edges


# --------------------------------------------------------------------------- pages of a folded group


def page_children(records: Sequence[StepRecord], node_id: str, redact: Redactor, phase: Optional[str] = None,
                  offset: int = 0, limit: int = 50) -> Dict[str, Any]:
    """One page of the children of ``node_id`` (optionally only those in ``phase``)."""
    rows = [r for r in records if r.parent == node_id and (phase is None or r.phase == phase)]
    page = rows[offset: offset + limit]
    return {"node": node_id, "phase": phase, "offset": offset, "limit": limit, "total": len(rows),
            "rows": [node_row(r, redact) for r in page]}
