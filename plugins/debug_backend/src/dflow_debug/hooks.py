"""Lifecycle hooks of a step in a local run (Argo's step hooks, dflow's ``success_hook``, ``running_hook``
and ``failure_hook``).

A hook runs its template as a node of its own below the step's, ``<step>.hooks.<event>``:
``running`` once the step's node is running (a step that is skipped, or fails before it
runs, never is), ``success`` once it has succeeded, ``failure`` once it has failed (not when
it ended in error: Argo's ``status == 'Failed'``). Its arguments see what the step sees,
and the step's own outputs. The step's dependents wait for its hooks, and a hook's phase
changes neither the step's nor the run's, as on Argo.
"""

from __future__ import annotations

import asyncio
from typing import Any, FrozenSet, Optional

from dflow.backend import StepRecord
from dflow.spec import StepSpec

from .refs import Outcome, Scope

__all__ = ["HookHandling"]

_EVENT = {"Succeeded": "success", "Failed": "failure"}


class _Host:
    """A step with hooks, as its node changes (the node book tells it)."""

    def __init__(self) -> None:
        self.rec: Optional[StepRecord] = None
        self.running = asyncio.Event()

    def seen(self, rec: StepRecord) -> None:
        self.rec = rec
        if rec.phase == "Running":
            self.running.set()


class HookHandling:
    """Mixed into the engine, whose ``run_step`` hands a step with hooks to :meth:`run_hooked`."""

    nodes: Any

    async def run_step(self, step: StepSpec, scope: Scope, parent: Any, path: str, kind: str,
                       stacked: FrozenSet[str] = frozenset()) -> Outcome:
        raise NotImplementedError  # (the engine's)

    async def run_hooked(self, step: StepSpec, scope: Scope, parent: Any, path: str, kind: str,
                         stacked: FrozenSet[str]) -> Outcome:
        node_id = self.nodes.node_id(path)
        host = self.nodes.hosts[node_id] = _Host()
        running = None
        if "running" in step.hooks:
            running = asyncio.ensure_future(self._when_running(step, host, scope, path, kind))
        try:
            out = await self.run_step(step.model_copy(update={"hooks": {}}), scope, parent, path, kind, stacked)
        finally:
            if running is not None and not host.running.is_set():
                running.cancel()  # it never ran: no running hook
                running = None
        event = _EVENT.get(out.phase)
        if event in step.hooks and host.rec is not None:
            await self._hook(step, event, scope, out, host.rec, path, kind)
        if running is not None:
            await running
        del self.nodes.hosts[node_id]
        if host.rec is not None and step.hooks.keys() & {"running", event}:
            self.nodes.save(host.rec)  # (its children now list its hooks)
        return out

    async def _when_running(self, step: StepSpec, host: _Host, scope: Scope, path: str, kind: str) -> None:
        await host.running.wait()
        assert host.rec is not None
        await self._hook(step, "running", scope, None, host.rec, path, kind)

    async def _hook(self, step: StepSpec, event: str, scope: Scope, out: Optional[Outcome], host: StepRecord,
                    path: str, kind: str) -> None:
        seen = Scope(scope.engine, scope.params, scope.arts)
        seen.steps = dict(scope.steps) if out is None else {**scope.steps, step.name: out}
        seen.item, seen.has_item = scope.item, scope.has_item
        await self.run_step(step.hooks[event], seen, host, f"{path}.hooks.{event}", kind)
