"""Pollers that turn a backend without a push API into pushed differences.

One :class:`RunWatcher` per run someone is looking at, one :class:`RunsWatcher`
for the list of runs. Each polls the backend from worker threads while it has
subscribers (and for ``linger`` seconds after the last one left), publishes an
immutable snapshot when something changed, and every subscriber's event stream
sends the difference between the snapshot it sent last and the current one.

Polling is cheap first: ``get_workflow`` tells whether a run changed; its steps
are read only while it is active or when its record changed. The pace starts at
``min_delay``, grows by half while nothing changes up to ``max_delay``, and is
never faster than three times the cost of the last read. At most ``max_runs`` run
watchers live at once (idle ones are dropped first).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple

import anyio

from dflow.backend import WorkflowRecord

from .fold import RunView, fold_run
from .security import Redactor
from .source import Source
from .sse import KEEPALIVE, event
from .views import FINAL_PHASES, run_row

__all__ = ["Hub", "RunWatcher", "RunsWatcher", "Pace"]

ACTIVE = ("Pending", "Running")


@dataclass
class Pace:
    """How often pollers look (seconds)."""

    min_delay: float = 0.25
    max_delay: float = 3.0
    linger: float = 30.0
    keepalive: float = 15.0


class _Published:
    """A value replaced as a whole, and a way to wait for the next replacement."""

    def __init__(self) -> None:
        self.value: Any = None
        self._changed = asyncio.Event()
        self.subscribers = 0
        self.last_seen = time.monotonic()
        self._poke = asyncio.Event()

    def publish(self, value: Any) -> None:
        """Replace the value and wake everyone waiting for a change."""
        self.value = value
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def next_change(self, since: Any, timeout: float) -> bool:
        """Wait until the value is no longer ``since``; ``False`` after ``timeout`` seconds."""
        changed = self._changed
        if self.value is not since:
            return True
        with anyio.move_on_after(timeout):
            await changed.wait()
        return self.value is not since

    def poke(self) -> None:
        """Look again now (after an action), instead of at the next tick."""
        self._poke.set()

    async def sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less when poked."""
        with anyio.move_on_after(delay):
            await self._poke.wait()
        self._poke.clear()

    def wanted(self, linger: float) -> bool:
        """Whether someone watches, or did less than ``linger`` seconds ago."""
        return self.subscribers > 0 or time.monotonic() - self.last_seen < linger


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunSnapshot:
    """The run's header line and folded view at one moment (or the error that stopped reading it)."""

    run: Optional[Dict[str, Any]]
    view: Optional[RunView]
    error: Optional[str] = None

    def full(self) -> Dict[str, Any]:
        """The whole snapshot, as the first event of a stream."""
        v = self.view
        return {"run": self.run, "error": self.error, "root": v.root if v else None,
                "nodes": list(v.nodes.values()) if v else [], "edges": [list(e) for e in v.edges] if v else [],
                "notable": v.notable if v else {}, "summary": v.summary() if v else None}

    def diff(self, old: "RunSnapshot") -> Dict[str, Any]:
        """What a page showing ``old`` must change to show this snapshot."""
        new, prev = self.view, old.view
        new_nodes = new.nodes if new else {}
        old_nodes = prev.nodes if prev else {}
        out: Dict[str, Any] = {
            "upsert": [n for k, n in new_nodes.items() if old_nodes.get(k) != n],
            "remove": [k for k in old_nodes if k not in new_nodes],
        }
        if self.run != old.run or self.error != old.error:
            out["run"], out["error"] = self.run, self.error
        if new is not None:
            if prev is None or new.edges != prev.edges:
                out["edges"] = [list(e) for e in new.edges]
            if prev is None or new.summary() != prev.summary() or new.notable != prev.notable:
                out["summary"], out["notable"] = new.summary(), new.notable
            if prev is None or new.root != prev.root:
                out["root"] = new.root
        return out


def progress_text(view: RunView) -> Optional[str]:
    """``"done/total"`` over the run's steps (a step is done when it reached a final phase)."""
    if not view.steps_total:
        return None
    done = sum(n for phase, n in view.counts.items() if phase in FINAL_PHASES)
    return f"{done}/{view.steps_total}"


class RunWatcher(_Published):
    """Polls one run and publishes :class:`RunSnapshot` values."""

    def __init__(self, hub: "Hub", run_id: str) -> None:
        super().__init__()
        self.hub = hub
        self.run_id = run_id
        self.task: Optional["asyncio.Task[None]"] = None
        # what was last seen of this run (by the runs list, or an earlier page) paints at once;
        # the first poll reads the run again and sends what changed since
        self.value = hub.views.get(run_id)

    async def poll(self) -> None:
        """Poll the run while it is watched (see the module's docstring for the pace)."""
        source, pace = self.hub.source, self.hub.pace
        delay, last = pace.min_delay, None
        while self.wanted(pace.linger):
            cost, changed = 0.0, False
            try:
                t0 = time.monotonic()
                rec = await source.call(source.backend.get_workflow, self.run_id)
                if self.value is None or self.value.view is None or rec.phase in ACTIVE or rec != last:
                    # the steps are read after the record, so they are at least as new as it
                    view = await self.read(newer_than=t0)
                    cost = time.monotonic() - t0
                    changed = self._offer(rec, view, None)
                last = rec
            except Exception as e:  # noqa: BLE001 - shown on the page; the poller goes on
                changed = self._offer(None, None, f"{type(e).__name__}: {e}")
            delay = pace.min_delay if changed else min(pace.max_delay, delay * 1.5)
            # never more than about a quarter of a core on reading, however large the run
            await self.sleep(max(delay, 3 * cost))

    async def read(self, newer_than: Optional[float] = None) -> RunView:
        """Read the run's steps (a read started after ``newer_than``) and fold them."""
        source = self.hub.source
        spec = await source.spec(self.run_id)
        records = await source.steps(self.run_id, newer_than)
        return await source.heavy(fold_run, records, spec, self.hub.redact)

    def _offer(self, rec: Optional[WorkflowRecord], view: Optional[RunView], error: Optional[str]) -> bool:
        """Publish what was read, unless the page already shows exactly that."""
        old = self.value
        if rec is not None and view is not None:
            progress = progress_text(view)
            self.hub.progress.put(rec, progress)
            snap = RunSnapshot(run=run_row(rec, self.hub.redact, progress), view=view)
        else:  # the read failed: keep showing what was known, with the error
            snap = RunSnapshot(run=old.run if old else None, view=old.view if old else None, error=error)
        if old is not None and old == snap:
            return False
        self.publish(snap)
        self.hub.views.put(self.run_id, snap)
        return True

    async def stream(self) -> AsyncIterator[str]:
        """The run's event stream: a ``snapshot``, then a ``patch`` per change."""
        keepalive = self.hub.pace.keepalive
        self.subscribers += 1
        try:
            while self.value is None:
                if not await self.next_change(None, keepalive):
                    yield KEEPALIVE
            sent = self.value
            yield event("snapshot", sent.full())
            while True:
                if not await self.next_change(sent, keepalive):
                    yield KEEPALIVE
                    continue
                cur = self.value
                yield event("patch", cur.diff(sent))
                sent = cur
        finally:
            self.subscribers -= 1
            self.last_seen = time.monotonic()


# --------------------------------------------------------------------------- the list of runs


def _matches(row: Dict[str, Any], phases: Sequence[str], text: str) -> bool:
    if phases and row["phase"] not in phases:
        return False
    return not text or text in row["name"].lower() or text in row["id"].lower()


def runs_page(rows: Sequence[Dict[str, Any]], phases: Sequence[str], text: str, limit: int,
              offset: int = 0) -> Tuple[List[Dict[str, Any]], int]:
    """The rows matching the filter (newest first, as ``rows`` are), and how many match in all."""
    text = text.strip().lower()
    hits = [r for r in rows if _matches(r, phases, text)]
    return hits[offset: offset + limit], len(hits)


class RunsWatcher(_Published):
    """Polls ``list_workflows`` and publishes the rows, newest first."""

    def __init__(self, hub: "Hub") -> None:
        super().__init__()
        self.hub = hub
        self.task: Optional["asyncio.Task[None]"] = None
        #: the ids each subscriber shows, for the progress column
        self.shown: Dict[int, List[str]] = {}
        self.progress_task: Optional["asyncio.Task[None]"] = None

    async def poll(self) -> None:
        """Poll the list of runs while it is watched."""
        source, pace = self.hub.source, self.hub.pace
        delay = pace.min_delay
        while self.wanted(pace.linger):
            changed = False
            try:
                records = await source.call(source.backend.list_workflows)
                rows = self.rows(records)
                if rows != self.value:
                    self.publish(rows)
                    changed = True
                self._refresh_progress(records)
            except Exception as e:  # noqa: BLE001 - shown on the page; the poller goes on
                err = [{"error": f"{type(e).__name__}: {e}"}]
                if self.value != err:
                    self.publish(err)
            delay = pace.min_delay if changed else min(pace.max_delay, delay * 1.5)
            await self.sleep(delay)
        if self.progress_task is not None:
            self.progress_task.cancel()

    def rows(self, records: Sequence[WorkflowRecord]) -> List[Dict[str, Any]]:
        """The runs as table rows, newest first."""
        rows = [run_row(r, self.hub.redact, self.hub.progress.get(r.id)) for r in records]
        rows.sort(key=lambda r: r["created"] or r["started"] or 0, reverse=True)
        return rows

    def _refresh_progress(self, records: Sequence[WorkflowRecord]) -> None:
        if self.progress_task is not None and not self.progress_task.done():
            return
        wanted = {i for ids in self.shown.values() for i in ids}
        todo = [r for r in records if r.id in wanted and not r.progress and self.hub.progress.stale(r)]
        if todo:
            self.progress_task = asyncio.get_running_loop().create_task(self._count(todo))

    async def _count(self, records: Sequence[WorkflowRecord]) -> None:
        hub = self.hub
        for rec in records:
            try:
                spec = await hub.source.spec(rec.id)
                steps = await hub.source.steps(rec.id)
                view = await hub.source.heavy(fold_run, steps, spec, hub.redact)
            except Exception:  # noqa: BLE001 - a run that cannot be read shows no progress
                continue
            del steps
            progress = progress_text(view)
            hub.progress.put(rec, progress)
            # opening this run from the list then paints at once
            hub.views.put(rec.id, RunSnapshot(run=run_row(rec, hub.redact, progress), view=view))
        self.poke()

    async def warm(self, count: int) -> None:
        """Read the ``count`` newest runs now: the runs page shows them first, and opening one paints at once."""
        try:
            records = await self.hub.source.call(self.hub.source.backend.list_workflows)
        except Exception:  # noqa: BLE001 - the runs page reports a backend that cannot list
            return
        newest = sorted(records, key=lambda r: r.created_at or r.started_at or 0, reverse=True)[:count]
        await self._count(newest)

    async def stream(self, phases: Sequence[str], text: str, limit: int) -> AsyncIterator[str]:
        """A subscriber's view of the runs: ``runs`` events with its page's order and changed rows."""
        keepalive = self.hub.pace.keepalive
        me = id(object())
        sent_rows: Dict[str, Dict[str, Any]] = {}
        sent_order: Optional[List[str]] = None
        sent_total = -1
        self.subscribers += 1
        try:
            seen: Any = None
            while True:
                if not await self.next_change(seen, keepalive):
                    yield KEEPALIVE
                    continue
                seen = rows = self.value
                if rows and "error" in rows[0]:
                    yield event("error", rows[0])
                    continue
                page, total = runs_page(rows, phases, text, limit)
                order = [r["id"] for r in page]
                self.shown[me] = order
                upsert = [r for r in page if sent_rows.get(r["id"]) != r]
                if upsert or order != sent_order or total != sent_total:
                    yield event("runs", {"order": order, "upsert": upsert, "total": total, "all": len(rows)})
                    sent_rows, sent_order, sent_total = {r["id"]: r for r in page}, order, total
                    self._refresh_progress_soon()
        finally:
            self.shown.pop(me, None)
            self.subscribers -= 1
            self.last_seen = time.monotonic()

    def _refresh_progress_soon(self) -> None:
        # a new page may show runs whose progress is not known yet
        self.poke()


class ViewCache:
    """The last snapshot of recently seen runs, bounded by runs and by the nodes they hold."""

    def __init__(self, runs: int = 64, nodes: int = 200_000) -> None:
        self._items: "OrderedDict[str, Tuple[RunSnapshot, int]]" = OrderedDict()
        self._runs, self._nodes, self._held = runs, nodes, 0

    def get(self, run_id: str) -> Optional[RunSnapshot]:
        """The last snapshot of ``run_id``, if kept."""
        item = self._items.get(run_id)
        if item is None:
            return None
        self._items.move_to_end(run_id)
        return item[0]

    def put(self, run_id: str, snap: RunSnapshot) -> None:
        """Keep ``snap`` (dropping the oldest beyond the bounds)."""
        if snap.view is None or snap.error:
            return
        size = len(snap.view.nodes) + sum(len(v) for v in snap.view.notable.values())
        old = self._items.pop(run_id, None)
        if old is not None:
            self._held -= old[1]
        self._items[run_id] = (snap, size)
        self._held += size
        while self._items and (len(self._items) > self._runs or self._held > self._nodes):
            _k, (_s, n) = self._items.popitem(last=False)
            self._held -= n


class ProgressCache:
    """``done/total`` per run, for the runs table (bounded; a finished run is counted once)."""

    def __init__(self, slots: int = 10000, every: float = 5.0) -> None:
        self._items: "OrderedDict[str, Tuple[Optional[str], Optional[float], str, float]]" = OrderedDict()
        self._slots = slots
        self._every = every

    def get(self, run_id: str) -> Optional[str]:
        """The progress text of ``run_id``, if counted."""
        item = self._items.get(run_id)
        return item[0] if item else None

    def put(self, rec: WorkflowRecord, text: Optional[str]) -> None:
        """Remember the progress of a run as its record is now."""
        self._items[rec.id] = (text, rec.finished_at, rec.phase, time.monotonic())
        self._items.move_to_end(rec.id)
        while len(self._items) > self._slots:
            self._items.popitem(last=False)

    def stale(self, rec: WorkflowRecord) -> bool:
        """Whether the run's progress should be counted again."""
        item = self._items.get(rec.id)
        if item is None:
            return True
        _text, finished, phase, stamp = item
        if rec.phase not in ACTIVE:
            return (finished, phase) != (rec.finished_at, rec.phase)
        return time.monotonic() - stamp > self._every


# --------------------------------------------------------------------------- the hub


class Hub:
    """Owns the source, the pollers and their tasks."""

    def __init__(self, source: Source, redact: Redactor, pace: Optional[Pace] = None, max_runs: int = 16) -> None:
        self.source = source
        self.redact = redact
        self.pace = pace or Pace()
        self.progress = ProgressCache()
        self.views = ViewCache()
        self.runs = RunsWatcher(self)
        self._watchers: "OrderedDict[str, RunWatcher]" = OrderedDict()
        self._max_runs = max_runs

    def _start(self, poller: Any, poll: Callable[[], Any]) -> None:
        if poller.task is None or poller.task.done():
            poller.last_seen = time.monotonic()
            poller.task = asyncio.get_running_loop().create_task(poll())

    def start(self, warm: int = 3) -> None:
        """At server start: read the ``warm`` newest runs in the background (bounded work, shared reads)."""
        if warm > 0:
            self.runs.progress_task = asyncio.get_running_loop().create_task(self.runs.warm(warm))

    def runs_watcher(self) -> RunsWatcher:
        """The poller of the runs list (started if needed)."""
        self._start(self.runs, self.runs.poll)
        return self.runs

    def run_watcher(self, run_id: str) -> RunWatcher:
        """The poller of ``run_id`` (created and started if needed)."""
        w = self._watchers.get(run_id)
        if w is None:
            w = self._watchers[run_id] = RunWatcher(self, run_id)
            self._evict()
        self._watchers.move_to_end(run_id)
        self._start(w, w.poll)
        return w

    def _evict(self) -> None:
        idle = [k for k, w in self._watchers.items() if w.subscribers == 0]
        while len(self._watchers) > self._max_runs and idle:
            w = self._watchers.pop(idle.pop(0))
            if w.task is not None:
                w.task.cancel()

    def poke(self, run_id: Optional[str] = None) -> None:
        """Look again now: at one run (and the list), after an action changed it."""
        self.runs.poke()
        if run_id is not None and run_id in self._watchers:
            self._watchers[run_id].poke()

    async def close(self) -> None:
        """Stop every poller (at shutdown)."""
        tasks = [w.task for w in [self.runs, *self._watchers.values()] if w.task is not None]
        if self.runs.progress_task is not None:
            tasks.append(self.runs.progress_task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
