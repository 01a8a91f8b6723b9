"""The local engine: runs a WorkflowSpec on this machine.

One driver process runs an asyncio program that walks the spec: ``Steps`` groups one
after another, their steps together, DAG tasks as soon as their dependencies are done,
fan-outs with a bounded number of children at a time. Each attempt of a script step is
staged into its own directory (:mod:`.staging`) and run by a step launcher
(:mod:`.launchers`): the fork server by default, an executor plugin's launcher
otherwise. Every change of a node is appended to ``nodes.jsonl`` (:mod:`.nodes`), so the
state is visible to other processes while the run goes on and a killed driver can be
resumed: nodes that succeeded before are taken as they are (their ids are derived from
their place in the workflow, so they are found again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from dflow import expressions as X
from dflow.backend import ReusedStep, StepRecord
from dflow.contract import EXIT_TRANSIENT, SLICE_PARAMETER
from dflow.names import check_rendered_key
from dflow.spec import ScriptTemplateSpec, StepSpec, StoredArtifact, WorkflowSpec
from dflow.storage import StorageClient

from .exits import ExitHandling
from .fanout import NOTHING, cut_inputs, gather, loop_items, slice_index_of, stack_outputs, stacked_of_steps, take_part
from .forkserver import ForkLauncher
from .hooks import HookHandling
from .launchers import Launchers, preload_ops
from .nodes import NodeBook, node_type
from .refs import PV, Outcome, Scope, StepFailed, item_text, records
from .staging import Stager
from .state import SUSPENDED, read_json

__all__ = ["Engine"]

# what a failed step preparation can raise (a bad reference, a full disk, a missing file)
_STEP_ERRORS = (StepFailed, ValueError, KeyError, TypeError, OSError)


class Engine(ExitHandling, HookHandling):
    """Runs one workflow; lives in the driver process."""

    def __init__(self, wfdir: str, spec: WorkflowSpec, workflow_id: str, settings: Dict[str, Any],
                 reuse: List[ReusedStep], previous: Dict[str, StepRecord], client: StorageClient,
                 storage_name: str, launcher: Optional[ForkLauncher] = None) -> None:
        """``launcher``: the fork server started while the workflow compiled, if one was."""
        self.wfdir = wfdir
        self.spec = spec
        self.workflow_id = workflow_id
        self.templates = {t.name: t for t in spec.templates}
        self.reuse = {r.key: r for r in reuse}
        self.previous = {k: v for k, v in previous.items() if v.phase in ("Succeeded", "Skipped")}
        self.nodes = NodeBook(wfdir, workflow_id, previous)
        self.stager = Stager(wfdir, workflow_id, client, storage_name, settings.get("copy_method") or "copy")
        self.launchers = Launchers(wfdir, preload_ops(spec), launcher)
        self.slots = asyncio.Semaphore(max(1, int(settings.get("workers") or os.cpu_count() or 2)))
        self.echo_logs = bool(settings.get("echo_logs"))  # (the submitting process waits, on its terminal)
        self._own_slots: Dict[int, asyncio.Semaphore] = {}
        self.presliced: Dict[str, int] = {}  # nodes whose sliced inputs the engine cut to their own slice
        self.terminating = self.stopping = False
        self.early_stop: List[int] = []
        self.status, self.started = "Running", time.time()  # {{workflow.status}}, and when the run started

    # ---------------------------------------------------------------- the run

    async def run(self) -> Tuple[str, Optional[str]]:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def on_end(stop: bool) -> None:  # terminate, or (SIGUSR1) Argo's stop: the exit handler still runs
            if stop and (self.stopping or self.terminating or self.status != "Running"):
                return  # stopped already, ending, or in the exit handler: as on Argo, a stop changes nothing
            self.stopping, self.terminating = stop, not stop
            self.launchers.kill_all()
            if main is not None:
                main.cancel()

        loop.add_signal_handler(signal.SIGTERM, on_end, False)
        loop.add_signal_handler(signal.SIGINT, on_end, False)
        loop.add_signal_handler(signal.SIGUSR1, on_end, True)
        if self.early_stop:  # a stop that came before the loop listened (see _driver_main)
            on_end(True)
        entry = self.templates[self.spec.entrypoint]
        params: Dict[str, PV] = {}
        for p in entry.inputs_parameters:
            if p.name in self.spec.parameters:
                params[p.name] = (self.spec.parameters[p.name], self.spec.parameter_types.get(p.name, p.type))
            elif p.value is not None:
                params[p.name] = (p.value, p.type)
        arts: Dict[str, Optional[StoredArtifact]] = {
            name: self._resolve_argument(a, name, Scope(self, params, {})) for name, a in self.spec.artifacts.items()}
        root = self.nodes.node("", self.workflow_id, self.workflow_id, node_type(entry), entry.name, None)
        try:
            try:
                outcome = await self.run_template(entry, params, arts, root, "")
                phase, message = outcome.phase, outcome.message
            except asyncio.CancelledError:
                if not self.stopping or main is None:
                    raise
                getattr(main, "uncancel", int)()  # stopped: what ran has ended; the exit handler gets launchers anew
                phase, message, self.launchers = "Failed", "stopped", Launchers(self.wfdir, preload_ops(self.spec))
            if self.spec.on_exit is not None and not self.terminating:
                phase, message = await self.run_exit_handler(phase, message)
        except asyncio.CancelledError:
            phase, message = "Failed", "terminated"
        finally:
            self.launchers.kill_all()
            self.launchers.close()
            self.nodes.close_log()
        return (phase, message) if not self.terminating else ("Failed", "terminated")

    # ---------------------------------------------------------------- templates

    async def run_template(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                           rec: StepRecord, path: str, stacked: FrozenSet[str] = NOTHING) -> Outcome:
        """``stacked``: the output artifacts of a Steps/DAG template that stack (see :mod:`.fanout`)."""
        prev = self.previous.get(rec.id)
        if prev is not None and prev.phase == "Succeeded":
            return Outcome("Succeeded", {k: (v.text, v.type) for k, v in prev.outputs_parameters.items()},
                           dict(prev.outputs_artifacts), rec.id)
        # a pod is Pending until it gets a slot (run_pod marks it Running then)
        rec.phase = "Pending" if tmpl.kind == "script" else "Running"
        rec.started_at = None if tmpl.kind == "script" else time.time()
        rec.inputs_parameters = records(params)
        rec.inputs_artifacts = {k: v for k, v in arts.items() if v is not None}
        if tmpl.kind == "script":
            rec.workdir = self.nodes.step_dir(rec)
        self.nodes.save(rec)
        try:
            if tmpl.kind == "script":
                # the pod's name, as Argo forms one: <workflow>-<template>-<node id's hash>
                pod = f"{self.workflow_id}-{tmpl.name}-{rec.id.rsplit('-', 1)[-1]}"
                outcome = await self.run_pod(tmpl, params, arts, rec, Scope(self, params, {}, pod))
            elif tmpl.kind == "steps":
                outcome = await self.run_steps(tmpl, params, arts, rec, path, stacked)
            else:
                outcome = await self.run_dag(tmpl, params, arts, rec, path, stacked)
        except asyncio.CancelledError:
            self.nodes.close(rec, "Failed", "terminated")
            raise
        except _STEP_ERRORS as e:
            outcome = Outcome("Failed", message=_error_text(e))
        rec.phase = outcome.phase
        rec.message = outcome.message
        rec.finished_at = time.time()
        rec.outputs_parameters = records(outcome.params)
        rec.outputs_artifacts = {k: v for k, v in outcome.arts.items() if v is not None}
        self.nodes.save(rec)
        if rec.workdir:
            _write_phase_file(rec)
        outcome.node_id = rec.id
        return outcome

    def template_outputs(self, tmpl: Any, scope: Scope, failed: bool, given: Any = ()
                         ) -> Tuple[Dict[str, PV], Dict[str, Optional[StoredArtifact]], List[str]]:
        """The template's outputs from its steps' (``given``: output artifacts already worked out)."""
        params: Dict[str, PV] = {}
        arts: Dict[str, Optional[StoredArtifact]] = {}
        problems: List[str] = []
        for p in tmpl.outputs_parameters:
            try:
                if p.value_from_parameter:
                    params[p.name] = scope.param(p.value_from_parameter, p.type)
                elif p.value_from_expression:
                    params[p.name] = scope.typed_expression(p.value_from_expression, p.type)
                elif p.value is not None:
                    params[p.name] = scope.param(p.value, p.type)
                else:
                    raise StepFailed(f"output parameter {p.name!r} has no source")
            except (StepFailed, ValueError, KeyError, TypeError) as e:
                if p.default is not None:
                    params[p.name] = (p.default, p.type)
                elif not failed:
                    problems.append(f"output parameter {p.name!r}: {e}")
        for a in tmpl.outputs_artifacts:
            if a.name in given:
                continue
            try:
                if a.from_:
                    arts[a.name] = scope.artifact(a.from_)
                elif a.from_expression:
                    v = scope.expression(a.from_expression)
                    arts[a.name] = v if isinstance(v, StoredArtifact) else None
            except (StepFailed, ValueError, KeyError, TypeError) as e:
                if not failed and not a.optional:
                    problems.append(f"output artifact {a.name!r}: {e}")
        return params, arts, problems

    def _finish(self, tmpl: Any, scope: Scope, failed: Optional[str], rec: StepRecord, stacked: FrozenSet[str]) -> Outcome:
        stack = stack_outputs(tmpl, stacked, scope.steps, f"{self.workflow_id}/{rec.id}", self.stager.storage_name) \
            if stacked else {}
        p, a, problems = self.template_outputs(tmpl, scope, bool(failed), stack)
        a.update(stack)
        if failed:
            return Outcome("Failed", p, a, message=failed)
        if problems:
            return Outcome("Failed", p, a, message="; ".join(problems))
        return Outcome("Succeeded", p, a)

    async def run_steps(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                        rec: StepRecord, path: str, stacked: FrozenSet[str]) -> Outcome:
        scope = Scope(self, params, arts)
        inner = stacked_of_steps(tmpl, stacked) if stacked else {}
        failed: Optional[str] = None
        for group in tmpl.steps:
            results = await asyncio.gather(*(self.run_step(s, scope, rec, f"{path}/{s.name}", "steps", inner.get(s.name, NOTHING))
                                             for s in group))
            for s, out in zip(group, results):
                scope.steps[s.name] = out
                if not _goes_on(s, out):
                    failed = failed or f"step {s.name!r} {out.phase.lower()}" + (f": {out.message}" if out.message else "")
            if failed:
                break
        return self._finish(tmpl, scope, failed, rec, stacked)

    async def run_dag(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                      rec: StepRecord, path: str, stacked: FrozenSet[str]) -> Outcome:
        scope = Scope(self, params, arts)
        inner = stacked_of_steps(tmpl, stacked) if stacked else {}
        tasks: Dict[str, StepSpec] = {t.name: t for t in tmpl.tasks}
        pending = dict(tasks)
        running: Dict[asyncio.Task, str] = {}
        failed: Optional[str] = None
        while pending or running:
            if not failed:
                for name, t in list(pending.items()):
                    deps = [scope.steps.get(d) for d in t.dependencies]
                    if any(d is None for d in deps):
                        continue
                    del pending[name]
                    blocked = [d for d, o in zip(t.dependencies, deps)
                               if not _goes_on(tasks[d], o)]
                    if blocked:
                        om = self.nodes.node(f"{path}/{name}", name, name, "Skipped", t.template, rec)
                        om.phase = "Omitted"
                        om.message = f"dependencies {blocked} did not succeed"
                        self.nodes.save(om)
                        scope.steps[name] = Outcome("Omitted", node_id=om.id, message=om.message)
                        continue
                    run = self.run_step(t, scope, rec, f"{path}/{name}", "tasks", inner.get(name, NOTHING))
                    running[asyncio.ensure_future(run)] = name
            if not running:
                if pending and not failed:
                    # nothing runs and nothing can start (the compiler refuses cycles): a safety net
                    for name in list(pending):
                        del pending[name]
                        scope.steps[name] = Outcome("Omitted", message="dependencies did not run")
                    continue
                break
            done, _ = await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                out = fut.result()
                scope.steps[name] = out
                t = tasks[name]
                if not _goes_on(t, out):
                    failed = failed or f"task {name!r} {out.phase.lower()}" + (f": {out.message}" if out.message else "")
            if failed:
                pending.clear()
        return self._finish(tmpl, scope, failed, rec, stacked)

    # ---------------------------------------------------------------- steps

    async def run_step(self, step: StepSpec, scope: Scope, parent: StepRecord, path: str, kind: str,
                       stacked: FrozenSet[str] = NOTHING) -> Outcome:
        if step.hooks:
            return await self.run_hooked(step, scope, parent, path, kind, stacked)
        tmpl = self.templates[step.template]
        try:
            if step.when is not None and not _when_per_item(step):
                cond = scope.text(step.when)
                if not X.eval_condition(cond):
                    return self._skipped(tmpl, parent, path, step.name, step.name, cond)
            items = loop_items(step, scope, lambda name: len(self.stager.catalog_of(self.resolve_artifact(step, name, scope))))
        except _STEP_ERRORS as e:
            rec = self.nodes.node(path, step.name, step.name, node_type(tmpl), tmpl.name, parent)
            self.nodes.close(rec, "Failed", _error_text(e), at_once=True)
            return Outcome("Failed", node_id=rec.id, message=_error_text(e))
        if items is None:
            return await self.run_instance(step, tmpl, scope, parent, path, step.name, stacked=stacked)
        if step.fanout is not None and tmpl.kind != "script":  # slices on a super-OP: its sliced outputs stack
            stacked = stacked | frozenset(step.fanout.gather_artifacts)
        return await self.run_fanout(step, tmpl, scope, parent, path, items, kind, stacked)

    def _skipped(self, tmpl: Any, parent: StepRecord, path: str, name: str, display: str, cond: str) -> Outcome:
        """A step (or one item of a loop) whose ``when`` was false: its outputs are their defaults."""
        rec = self.nodes.node(path, name, display, "Skipped", tmpl.name, parent)
        rec.phase = "Skipped"
        rec.message = f"when {cond!r} was false"
        rec.started_at = rec.finished_at = time.time()
        params = {p.name: (p.default, p.type) for p in tmpl.outputs_parameters if p.default is not None}
        rec.outputs_parameters = records(params)
        self.nodes.save(rec)
        return Outcome("Skipped", params, {}, rec.id, rec.message)

    def resolve_artifact(self, step: StepSpec, name: str, scope: Scope) -> Optional[StoredArtifact]:
        arg = step.artifacts.get(name)
        if arg is None:
            return None
        return self._resolve_argument(arg, name, scope)

    def _resolve_argument(self, arg: Any, name: str, scope: Scope) -> Optional[StoredArtifact]:
        if arg.items is not None:  # a list (a dict) given as one artifact: its items are the parts, merged in order
            keys = arg.item_keys or [None] * len(arg.items)
            found = [(k, p) for k, p in zip(keys, (self._resolve_argument(x, name, scope) for x in arg.items))
                     if p is not None]
            return StoredArtifact(key=f"{self.workflow_id}/merged", parts=[p for _, p in found],
                                  part_keys=[k for k, _ in found] if arg.item_keys is not None else None)
        if arg.raw is not None:  # a text given as an artifact: a file holding it, named as the input
            return self.stager.raw_file(arg.raw, name)
        if arg.ref:
            art = scope.artifact(arg.ref)
        elif arg.from_expression:
            v = scope.expression(arg.from_expression)
            art = v if isinstance(v, StoredArtifact) else None
        else:
            art = arg.stored
            if art is not None and "{{" in art.key:  # S3Artifact(key="{{workflow.name}}/..."), filled in here
                art = art.model_copy(update={"key": scope.text(art.key)})
        return take_part(art, scope.text(arg.sub_path)) if art is not None and arg.sub_path else art

    async def run_instance(self, step: StepSpec, tmpl: Any, scope: Scope, parent: StepRecord, path: str, display: str,
                           position: Optional[int] = None, stacked: FrozenSet[str] = NOTHING) -> Outcome:
        try:
            if scope.has_item and step.when is not None and _when_per_item(step):
                cond = scope.text(step.when)  # a condition on the item: each item's own, as Argo evaluates it
                if not X.eval_condition(cond):
                    return self._skipped(tmpl, parent, path, step.name, display, cond)
            params: Dict[str, PV] = {}
            for p in tmpl.inputs_parameters:
                if p.name in step.parameters:
                    text, tp = scope.param(step.parameters[p.name], step.parameter_types.get(p.name) or p.type)
                    params[p.name] = (text, tp or p.type)
                elif p.value is not None:
                    params[p.name] = (p.value, p.type)
                else:
                    raise StepFailed(f"input parameter {p.name!r} of template {tmpl.name!r} has no value")
            if SLICE_PARAMETER in step.parameters:
                params[SLICE_PARAMETER] = scope.param(step.parameters[SLICE_PARAMETER], None)
            arts: Dict[str, Optional[StoredArtifact]] = {}
            for a in tmpl.inputs_artifacts:
                art = self.resolve_artifact(step, a.name, scope)
                if art is None and not a.optional:
                    source = step.artifacts.get(a.name)
                    detail = f": its source {source.ref or source.from_expression} was not produced" if source else ""
                    raise StepFailed(f"input artifact {a.name!r} of template {tmpl.name!r} is not given{detail}")
                arts[a.name] = art
            presliced = None
            fan = step.fanout
            if fan is not None and not fan.group_size and (fan.sub_path or SLICE_PARAMETER in params):
                if fan.index is not None:  # an instance of a sliced Steps/DAG: the item gives the index
                    presliced = slice_index_of({SLICE_PARAMETER: (scope.text(fan.index), None)})
                else:
                    presliced = position if fan.sub_path else slice_index_of(params)
                cut_inputs(fan, params, arts, presliced, self.stager.catalog_of)
            key = check_rendered_key(scope.text(step.key)) if step.key else None
        except _STEP_ERRORS as e:
            rec = self.nodes.node(path, step.name, display, node_type(tmpl), tmpl.name, parent)
            self.nodes.close(rec, "Failed", _error_text(e), at_once=True)
            return Outcome("Failed", node_id=rec.id, message=_error_text(e))
        rec = self.nodes.node(path, step.name, display, node_type(tmpl), tmpl.name, parent, key)
        if presliced is not None:
            self.presliced[rec.id] = presliced
        if key is not None and key in self.reuse:
            r = self.reuse[key]
            rec.phase = "Succeeded"
            rec.message = "reused"
            rec.started_at = rec.finished_at = time.time()
            rec.inputs_parameters = records(params)
            rec.outputs_parameters = dict(r.outputs_parameters)
            rec.outputs_artifacts = dict(r.outputs_artifacts)
            self.nodes.save(rec)
            return Outcome("Succeeded", {k: (v.text, v.type) for k, v in r.outputs_parameters.items()},
                           dict(r.outputs_artifacts), rec.id, "reused")
        return await self.run_template(tmpl, params, arts, rec, path, stacked)

    async def run_fanout(self, step: StepSpec, tmpl: Any, scope: Scope, parent: StepRecord, path: str,
                         items: List[Any], kind: str, stacked: FrozenSet[str] = NOTHING) -> Outcome:
        group = self.nodes.node(path, step.name, step.name, "StepGroup" if kind == "steps" else "TaskGroup", tmpl.name, parent)
        group.phase = "Running"
        group.started_at = time.time()
        self.nodes.save(group)
        limit = step.parallelism or tmpl.parallelism
        sem = asyncio.Semaphore(limit) if limit else None

        async def child(i: int, item: Any) -> Outcome:
            display = f"{step.name}({i}:{item_text(item)[:60]})"
            run = self.run_instance(step, tmpl, scope.with_item(item), group, f"{path}({i})", display, i, stacked)
            if sem is None:
                return await run
            async with sem:
                return await run

        try:
            results = await asyncio.gather(*(child(i, it) for i, it in enumerate(items)))
        except asyncio.CancelledError:
            self.nodes.close(group, "Failed", "terminated")
            raise
        ok = [r for r in results if r.phase == "Succeeded"]
        n = len(results)
        if step.continue_on_num_success is not None or step.continue_on_success_ratio is not None:
            need_n = step.continue_on_num_success if step.continue_on_num_success is not None else 0
            need_r = step.continue_on_success_ratio if step.continue_on_success_ratio is not None else 0.0
            success = len(ok) >= need_n and (n == 0 or len(ok) / n >= need_r)
        else:  # as Argo's step group: failures the step continues on (continue_on_failed/error) are tolerated
            success = all(_goes_on(step, r) for r in results)
        params, parts = gather(step.fanout, tmpl.outputs_parameters, tmpl.outputs_artifacts, results)
        arts = {name: StoredArtifact(key=f"{self.workflow_id}/{group.id}/{name}", storage=self.stager.storage_name,
                                     parts=p, stacked=name in stacked) for name, p in parts.items()}
        group.phase = "Succeeded" if success else "Failed"
        failed_count = sum(1 for r in results if not r.ok)
        group.message = None if success and not failed_count else f"{len(ok)}/{n} succeeded"
        group.finished_at = time.time()
        group.outputs_parameters = records(params)
        group.outputs_artifacts = dict(arts)
        self.nodes.save(group)
        return Outcome(group.phase, params, dict(arts), group.id, group.message)

    # ---------------------------------------------------------------- pods

    async def _while_suspended(self) -> None:
        """Wait while the run is suspended (``Workflow.suspend``); a resume removes the flag."""
        flag = os.path.join(self.wfdir, SUSPENDED)
        while os.path.exists(flag):
            await asyncio.sleep(0.1)

    def _slots_of(self, launcher: Any) -> asyncio.Semaphore:
        own = getattr(launcher, "slots", None)
        if not own or launcher is self.launchers.default:
            return self.slots
        sem = self._own_slots.get(id(launcher))
        if sem is None:
            sem = self._own_slots[id(launcher)] = asyncio.Semaphore(int(own))
        return sem

    async def run_pod(self, tmpl: ScriptTemplateSpec, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                      rec: StepRecord, scope: Scope) -> Outcome:
        if tmpl.resource is not None:
            raise StepFailed(f"template {tmpl.name!r} is a Kubernetes resource step; the local backend cannot run it")
        sdir = rec.workdir
        assert sdir is not None
        self.stager.make_dirs(sdir, params)
        retry = tmpl.retry
        limit = retry.limit if retry else 0
        executor = tmpl.executor.model_dump() if tmpl.executor is not None and tmpl.executor.name else None
        launcher = self.launchers.get(executor)
        attempt = 0

        def report(handle: Dict[str, Any], status: Dict[str, str]) -> None:
            self.launchers.record(rec.id, executor, handle)
            if executor is not None:
                rec.launch = {"executor": str(executor["name"]), **{k: str(v) for k, v in status.items()}}
                self.nodes.save(rec)

        await self._while_suspended()
        async with self._slots_of(launcher):
            rec.phase = "Running"
            rec.started_at = time.time()
            self.nodes.save(rec)
            local_arts = self.stager.place_inputs(tmpl, arts, sdir)
            while True:
                attempt += 1
                rec.attempts = attempt
                if attempt > 1:
                    self.nodes.save(rec)
                    _reset_outputs(sdir)
                    with open(os.path.join(sdir, "log.txt"), "a") as f:
                        f.write(f"\n--- attempt {attempt} ---\n")
                prepared = self.stager.prepare(tmpl, params, arts, local_arts, sdir, rec, scope,
                                               self.presliced.get(rec.id), attempt)
                logged = _size(prepared.log_path) if self.echo_logs else 0
                try:
                    code, timed_out = await launcher.run(prepared, report)
                finally:
                    self.launchers.forget(rec.id)
                    if self.echo_logs:
                        _echo(prepared.log_path, logged)
                if code == 0 and not timed_out:
                    break
                transient = (code == EXIT_TRANSIENT) or (timed_out and bool(retry and retry.timeout_as_transient))
                lost = code < 0 and not timed_out and not self.terminating  # killed unasked: a pod's "error"
                retryable = retry is not None and (retry.on == "always" or (retry.on == "transient" and transient)
                                                   or (retry.on == "error" and lost))
                if retryable and attempt <= limit:
                    continue
                if timed_out:
                    msg = f"timed out after {tmpl.timeout}s"
                elif code < 0:
                    msg = f"the step process was killed by signal {signal.Signals(-code).name}"
                else:
                    msg = _error_message(sdir, code)
                if attempt > 1:
                    msg += f" (after {attempt} attempts)"
                return Outcome("Failed", self.stager.failed_outputs(tmpl, sdir), {}, message=msg)
        try:
            p, a = self.stager.collect_outputs(tmpl, sdir)
            if any(o.save_key for o in tmpl.outputs_artifacts):
                self.stager.save_copies(tmpl, sdir, a, scope)
        except StepFailed as e:
            return Outcome("Failed", message=str(e))
        return Outcome("Succeeded", p, a)


# ---------------------------------------------------------------- helpers


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _echo(path: str, start: int) -> None:
    """Print what an attempt added to its log (from byte ``start``), as dflow's debug mode prints a step's output."""
    if _size(path) <= start:
        return
    try:
        with open(path, "rb") as f:
            f.seek(start)
            out = sys.stdout.buffer
            for chunk in iter(lambda: f.read(1 << 16), b""):
                out.write(chunk)
            out.flush()
    except (OSError, ValueError, AttributeError):  # no console to print to (closed, or not a byte stream)
        pass


def _goes_on(step: StepSpec, out: Outcome) -> bool:
    """Whether the template goes on after ``step``: it succeeded (or was skipped), or it failed with
    ``continue_on_failed``, or it ended in error with ``continue_on_error`` (Argo's ``continueOn``,
    which takes each flag for its own phase)."""
    if out.ok:
        return True
    if out.phase == "Failed":
        return bool(step.continue_on_failed)
    if out.phase == "Error":
        return bool(step.continue_on_error)
    return bool(step.continue_on_failed or step.continue_on_error)


def _when_per_item(step: StepSpec) -> bool:
    """Whether a looping step's ``when`` reads ``{{item}}``: then each item is kept or skipped on its own."""
    if step.when is None or (step.with_param is None and step.with_sequence is None and step.fanout is None):
        return False
    return any(r == "item" or r.startswith("item.") for r in X.find_refs(step.when))


def _error_text(e: BaseException) -> str:
    if isinstance(e, OSError) and not isinstance(e, StepFailed):
        return f"preparing the step failed: {type(e).__name__}: {e}"
    return str(e)


def _reset_outputs(sdir: str) -> None:
    import shutil

    out = os.path.join(sdir, "outputs")
    shutil.rmtree(out, ignore_errors=True)
    for d in ("parameters", "artifacts"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    err = os.path.join(sdir, "error.json")
    if os.path.exists(err):
        os.unlink(err)


def _error_message(sdir: str, code: int) -> str:
    err = read_json(os.path.join(sdir, "error.json"))
    if err:
        return f"{err.get('type', 'Error')}: {err.get('message', '')}"
    return f"the step exited with code {code}; see {os.path.join(sdir, 'log.txt')}"


def _write_phase_file(rec: StepRecord) -> None:
    assert rec.workdir is not None
    try:
        with open(os.path.join(rec.workdir, "phase"), "w") as f:
            f.write(rec.phase)
    except OSError:
        pass
