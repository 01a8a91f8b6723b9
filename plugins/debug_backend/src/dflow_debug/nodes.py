"""Node bookkeeping of a local run: ids, records, state changes and step directories.

A node's id is derived from its place in the workflow (its path), so a resumed run
finds the nodes of the run it continues. Every change of a node is appended to
``nodes.jsonl`` (see :mod:`dflow_debug.state`). Each Pod node gets a directory of its
own, named by the step's key or by its name and id; the directory a node was given is
recorded with it and a resumed run reuses it, so no two nodes ever share one.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional, Set

from dflow.backend import StepRecord

from .refs import short_hash
from .state import STATE_NAMES, NodeLog

__all__ = ["NodeBook", "node_type"]


def node_type(tmpl: Any) -> str:
    """The type of the node that runs template ``tmpl``, as Argo names it."""
    return {"script": "Pod", "steps": "Steps", "dag": "DAG"}[tmpl.kind]


class NodeBook:
    """The nodes of one run, and the directories of its steps."""

    def __init__(self, wfdir: str, workflow_id: str, previous: Dict[str, StepRecord]) -> None:
        self.wfdir = wfdir
        self.workflow_id = workflow_id
        self.log = NodeLog(os.path.join(wfdir, "nodes.jsonl"))
        # directories recorded by the run this one continues: their owners keep them
        self.recorded: Dict[str, str] = {k: v.workdir for k, v in previous.items() if v.workdir}
        self.used_dirs: Dict[str, str] = {}
        self.taken_dirs: Set[str] = set(self.recorded.values())
        self.failed: Dict[str, StepRecord] = {}  # the nodes that failed, for {{workflow.failures}}
        self.hosts: Dict[str, Any] = {}  # steps with lifecycle hooks, by node id: told of each change (hooks.py)

    def node_id(self, path: str) -> str:
        return f"{self.workflow_id}-{short_hash(path, 10)}"

    def node(self, path: str, name: str, display: str, type_: str, template: Optional[str],
             parent: Optional[StepRecord], key: Optional[str] = None) -> StepRecord:
        node_id = self.node_id(path)
        rec = StepRecord(id=node_id, name=name, display_name=display, template=template, type=type_, phase="Pending",
                         key=key, parent=parent.id if parent else None)
        if parent is not None:
            parent.children.append(node_id)
        return rec

    def save(self, rec: StepRecord) -> None:
        if rec.phase in ("Failed", "Error"):
            self.failed[rec.id] = rec
        if self.hosts and rec.id in self.hosts:
            self.hosts[rec.id].seen(rec)
        self.log.append(rec)

    def failures_text(self, workflow_id: str) -> str:
        """``{{workflow.failures}}``: the nodes that failed, as Argo lists them (JSON, ``null`` if none)."""
        recs = sorted(self.failed.values(), key=lambda r: r.finished_at or 0)
        return json.dumps([{
            "displayName": r.display_name, "message": r.message, "templateName": r.template, "phase": r.phase,
            "podName": f"{workflow_id}-{r.template}-{r.id.rsplit('-', 1)[-1]}",
            "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.finished_at)) if r.finished_at else None,
        } for r in recs] or None, separators=(",", ":"))

    def close(self, rec: StepRecord, phase: str, message: Optional[str] = None, at_once: bool = False) -> None:
        """Record that ``rec`` ended with ``phase`` (``at_once``: it ended as it started)."""
        now = time.time()
        rec.phase = phase
        rec.message = message
        rec.finished_at = now
        if at_once:
            rec.started_at = now
        self.save(rec)

    def step_dir(self, rec: StepRecord) -> str:
        """The directory of a Pod node: the one recorded for it before, else a new one.

        Named by the key (or the name and id) unless that name is a state file of the
        workflow directory or another node's directory; then the id is appended. A key
        with ``/`` in it (a path, as APEX makes them) has each ``/`` replaced by ``_`` (one
        directory per step, never inside another step's).
        """
        if rec.id in self.used_dirs:
            return self.used_dirs[rec.id]
        path = self.recorded.get(rec.id)
        if path is None:
            base = rec.key if rec.key else f"{rec.name}-{rec.id[-5:]}"
            base = base.replace("/", "_")
            path = os.path.join(self.wfdir, base)
            if path in self.taken_dirs or base in STATE_NAMES or base.startswith("."):
                path = os.path.join(self.wfdir, f"{base}-{rec.id[-10:]}")
            n = 1
            while path in self.taken_dirs:  # pragma: no cover - ids are unique; belt and braces
                n += 1
                path = os.path.join(self.wfdir, f"{base}-{rec.id[-10:]}-{n}")
        self.used_dirs[rec.id] = path
        self.taken_dirs.add(path)
        return path

    def close_log(self) -> None:
        self.log.close()
