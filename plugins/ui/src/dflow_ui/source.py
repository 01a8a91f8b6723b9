"""The backend, read from worker threads: bounded concurrency, shared reads, a small spec cache.

Backend calls block (files, HTTP), so they run in threads. Reading every step of
a run (``list_steps``) is the one expensive call: at most ``heavy`` of them run
at once, and callers asking for the same run while a read is under way (the run's
poller, a step panel, a page of slices) share that read. The records are kept
for ``fresh_for`` seconds after the read and then dropped: the server holds folded
views, never every record of every run.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import anyio
import anyio.to_thread

from dflow.backend import Backend, StepRecord

__all__ = ["Source"]

T = TypeVar("T")


class Source:
    """Shared, bounded access to one backend."""

    def __init__(self, backend: Backend, heavy: int = 2, light: int = 4, fresh_for: float = 0.5,
                 specs: int = 16) -> None:
        self.backend = backend
        self._heavy = anyio.CapacityLimiter(heavy)
        self._light = anyio.CapacityLimiter(light)
        self._fresh_for = fresh_for
        #: run id -> (when the read started, the read)
        self._reads: Dict[str, Tuple[float, "asyncio.Future[Tuple[float, List[StepRecord]]]"]] = {}
        self._specs: "OrderedDict[str, Any]" = OrderedDict()
        self._spec_slots = specs
        #: seconds the last full read of each run took (the pollers pace themselves by it)
        self.read_cost: "OrderedDict[str, float]" = OrderedDict()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread (a light call: one record, a log, an action)."""
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=self._light)

    async def heavy(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread, counted against the heavy-work limit."""
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=self._heavy)

    async def steps(self, run_id: str, newer_than: Optional[float] = None) -> List[StepRecord]:
        """Every step record of ``run_id``.

        A read under way, or finished less than ``fresh_for`` seconds ago, is shared,
        provided it started after ``newer_than`` (a ``time.monotonic()`` value): a
        poller that just saw the run change asks for a read that started after that.
        """
        now = time.monotonic()
        read = self._reads.get(run_id)
        if read is not None:
            started, fut = read
            fresh = not fut.done() or (not fut.cancelled() and fut.exception() is None
                                       and now - fut.result()[0] <= self._fresh_for)
            if fresh and (newer_than is None or started >= newer_than):
                return (await asyncio.shield(fut))[1]
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._reads[run_id] = (now, fut)
        try:
            records = await self.heavy(self.backend.list_steps, run_id)
        except BaseException as e:
            self._forget(run_id, fut)
            # waiters (if any) see the same error; mark it retrieved so nobody is warned
            fut.set_exception(e if isinstance(e, Exception) else RuntimeError("the read was cancelled"))
            fut.exception()
            raise
        done = time.monotonic()
        self.read_cost[run_id] = done - now
        self.read_cost.move_to_end(run_id)
        while len(self.read_cost) > 256:
            self.read_cost.popitem(last=False)
        fut.set_result((done, records))
        loop.call_later(self._fresh_for, self._forget, run_id, fut)
        return records

    def _forget(self, run_id: str, fut: "asyncio.Future[Any]") -> None:
        read = self._reads.get(run_id)
        if read is not None and read[1] is fut:
            del self._reads[run_id]

    async def step(self, run_id: str, step_id: str) -> Optional[StepRecord]:
        """One step of a run by id (or by name or key when no id matches), or ``None``."""
        records = await self.steps(run_id)
        for r in records:
            if r.id == step_id:
                return r
        return next((r for r in records if step_id in (r.key, r.display_name)), None)

    async def spec(self, run_id: str) -> Any:
        """The run's WorkflowSpec, or ``None`` when the backend cannot give it."""
        if run_id in self._specs:
            self._specs.move_to_end(run_id)
            return self._specs[run_id]
        try:
            spec = await self.call(self.backend.get_spec, run_id)
        except Exception:  # noqa: BLE001 - the graph then has no dependency edges, nothing else is lost
            return None
        self._specs[run_id] = spec
        while len(self._specs) > self._spec_slots:
            self._specs.popitem(last=False)
        return spec
