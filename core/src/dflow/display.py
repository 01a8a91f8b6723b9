"""Text views of a workflow: the step tree with phases, durations and progress."""

from __future__ import annotations

import time
from typing import Dict, List, Optional

from .backend import StepRecord, WorkflowRecord

__all__ = ["format_tree", "format_duration"]

_MARK = {"Succeeded": "✔", "Failed": "✖", "Error": "✖", "Running": "●", "Pending": "○", "Skipped": "○", "Omitted": "○"}


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def format_tree(workflow: WorkflowRecord, steps: List[StepRecord], max_children: int = 20) -> str:
    """The workflow's nodes as an indented tree; long fan-outs are summarized."""
    by_id: Dict[str, StepRecord] = {s.id: s for s in steps}
    now = time.time()
    lines = [f"{workflow.id}  {workflow.phase}" + (f"  ({workflow.message})" if workflow.message else "")]
    if workflow.started_at:
        lines[0] += f"  {format_duration((workflow.finished_at or now) - workflow.started_at)}"
    roots = [s for s in steps if s.parent is None or s.parent not in by_id]
    depth_of: Dict[str, int] = {}

    def depth(s: StepRecord) -> int:
        if s.id not in depth_of:
            depth_of[s.id] = 0 if s.parent not in by_id else depth(by_id[s.parent]) + 1
        return depth_of[s.id]

    name_width = max([len(s.display_name) + 2 * depth(s) + 2 for s in steps] + [30])
    name_width = min(name_width, 60)

    def line(s: StepRecord, depth: int) -> str:
        dur = format_duration(((s.finished_at or now) - s.started_at) if s.started_at else None)
        extra = []
        if s.key:
            extra.append(f"key={s.key}")
        if s.progress and s.phase == "Running":
            extra.append(f"progress={s.progress}")
        launch = getattr(s, "launch", None) or {}
        if launch.get("job"):
            # a step an executor launched elsewhere: its scheduler job, and the scheduler's word on it
            extra.append(f"job={launch['job']}")
            if s.phase in ("Running", "Pending") and launch.get("state"):
                extra.append(f"state={launch['state']}")
        if s.attempts > 1:
            extra.append(f"attempts={s.attempts}")
        if s.message and s.phase not in ("Succeeded",):
            extra.append(s.message if len(s.message) < 100 else s.message[:97] + "...")
        head = f"{'  ' * depth}{_MARK.get(s.phase, '?')} {s.display_name}"
        return f"{head:<{name_width}} {s.type:<9} {s.phase:<9} {dur:>7}  {'  '.join(extra)}".rstrip()

    def walk(s: StepRecord, depth: int) -> None:
        lines.append(line(s, depth))
        kids = [by_id[c] for c in dict.fromkeys(s.children) if c in by_id]
        if not kids:
            kids = [k for k in steps if k.parent == s.id]
        if len(kids) > max_children:
            counts: Dict[str, int] = {}
            for k in kids:
                counts[k.phase] = counts.get(k.phase, 0) + 1
            for k in kids[: max_children // 2]:
                walk(k, depth + 1)
            summary = ", ".join(f"{n} {p}" for p, n in sorted(counts.items()))
            lines.append(f"{'  ' * (depth + 1)}… {len(kids) - max_children // 2} more ({summary} in all)")
            return
        for k in kids:
            walk(k, depth + 1)

    for r in roots:
        if r.id == workflow.id or r.parent is None:
            # the root node is the workflow itself: show its children directly
            kids = [k for k in steps if k.parent == r.id]
            for k in kids:
                walk(k, 1)
        else:
            walk(r, 1)
    return "\n".join(lines)
