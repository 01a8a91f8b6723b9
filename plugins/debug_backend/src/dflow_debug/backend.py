"""``LocalBackend``: the ``debug`` mode of dflow, running workflows on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import string
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

from dflow.backend import Backend
from dflow.errors import BackendError, ValidationError, WorkflowNotFoundError
from dflow.linking import check_copy_method
from dflow.settings import config, s3_config

from .forkserver import ForkLauncher, pid_alive, process_start_time
from .launchers import cancel_leftovers, preload_ops
from .state import SUSPENDED, atomic_write, read_json, read_nodes, read_text

if TYPE_CHECKING:  # the records and the spec (pydantic) are imported where they are used: loading
    # this backend, and starting its fork server, must not wait for them
    from dflow.backend import ReusedStep, StepRecord, WorkflowRecord
    from dflow.spec import WorkflowSpec

__all__ = ["LocalBackend"]

FINAL = ("Succeeded", "Failed", "Error")


def _workdir() -> str:
    return os.path.abspath(config.get("debug_workdir") or ".")


def _new_id(name: str, workdir: str) -> str:
    """``<name>-<5 random characters>``, from the system's randomness (not the ``random`` module a user may
    have seeded) and not taken in ``workdir``."""
    rng = random.SystemRandom()
    while True:
        suffix = "".join(rng.choices(string.ascii_lowercase + string.digits, k=5))
        candidate = f"{name[:57]}-{suffix}"
        if not os.path.exists(os.path.join(workdir, candidate)):
            return candidate


class LocalBackend(Backend):
    """Runs workflows in a driver process on this machine; state lives under ``config["debug_workdir"]``."""

    name = "debug"
    default_storage = "local"
    poll_start = 0.01
    poll_cap = 0.2

    def __init__(self, workdir: Optional[str] = None) -> None:
        self._workdir = workdir
        self._submitting = threading.local()  # .launcher: the fork server started for the submit under way

    @property
    def workdir(self) -> str:
        return os.path.abspath(self._workdir) if self._workdir else _workdir()

    def wfdir(self, workflow_id: str) -> str:
        if not workflow_id or "/" in workflow_id or workflow_id.startswith("."):
            raise WorkflowNotFoundError(f"{workflow_id!r} is not a workflow id")
        d = os.path.join(self.workdir, workflow_id)
        if not os.path.isfile(os.path.join(d, "workflow.json")):
            raise WorkflowNotFoundError(
                f"no workflow {workflow_id!r} in {self.workdir} (config['debug_workdir']); "
                f"known: {', '.join(r.id for r in self.list_workflows()[:10]) or 'none'}"
            )
        return d

    # ---------------------------------------------------------------- submit

    @contextlib.contextmanager
    def submitting(self, *, detach: bool = False) -> Iterator[None]:
        """Start the fork server while the workflow compiles: its interpreter's start and the
        runtime's import are then off the path to the first step. The driver that ``submit``
        forks takes it over; this process leaves it alone until the driver has ended, then ends
        it (a shutdown of the channel reaches it even if a fork made meanwhile by another thread
        holds a copy) and collects its exit. (A detached run's driver starts its own: the server
        must not depend on this process or its session.)"""
        if detach:
            yield
            return
        launcher = ForkLauncher()
        launcher.open()
        self._submitting.launcher = launcher
        try:
            yield
        finally:
            self._submitting.launcher = None
            launcher.close()

    def submit(self, spec: WorkflowSpec, *, reuse: Optional[List[ReusedStep]] = None, detach: bool = False) -> str:
        self._check_runnable(spec)
        copy_method = check_copy_method(config.get("debug_copy_method"))  # (refused before anything is written)
        launcher = None if detach else getattr(self._submitting, "launcher", None)
        if launcher is not None:
            launcher.load(preload_ops(spec))  # the server loads the OPs while the run's files are written
        workflow_id = _new_id(spec.name, self.workdir) if spec.generate_name else spec.name
        wfdir = os.path.join(self.workdir, workflow_id)
        os.makedirs(wfdir, exist_ok=False)
        from dflow.artifact import storage_name

        settings = {"workers": config.get("debug_workers"), "storage_name": storage_name(), "storage_root": self.workdir,
                    "echo_logs": bool(config.get("debug_echo_logs", True)) and not detach, "copy_method": copy_method}
        atomic_write(os.path.join(wfdir, "spec.json"), spec.to_json())
        atomic_write(os.path.join(wfdir, "reuse.json"), json.dumps([r.model_dump(mode="json") for r in (reuse or [])]))
        record = {"id": workflow_id, "name": spec.name, "phase": "Pending", "created_at": time.time(), "settings": settings,
                  "labels": dict(spec.labels or {})}
        atomic_write(os.path.join(wfdir, "workflow.json"), json.dumps(record))
        atomic_write(os.path.join(wfdir, "status"), "Pending")
        if not detach:  # the run goes on in submit(): its id is said now, not when it has ended
            print(f"Workflow has been submitted (ID: {workflow_id})", file=sys.stderr, flush=True)
            self.announced = workflow_id
        self._start_driver(wfdir, workflow_id, detach, resume=False, launcher=launcher)
        return workflow_id

    def _check_runnable(self, spec: WorkflowSpec) -> None:
        for t in spec.templates:
            if getattr(t, "resource", None) is not None:
                raise ValidationError(
                    f"template {t.name!r} is a Kubernetes resource step; the local (debug) backend cannot run it. "
                    "Run this workflow with config['mode'] = 'default' on a cluster"
                )

    def _start_driver(self, wfdir: str, workflow_id: str, detach: bool, resume: bool,
                      launcher: Optional[ForkLauncher] = None) -> None:
        """Fork the driver; ``launcher``: a fork server started for it already, which it takes over."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the driver
            code = 0
            try:
                if detach:
                    os.setsid()
                    if os.fork() != 0:
                        os._exit(0)
                    devnull = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(devnull, fd)
                code = _driver_main(wfdir, workflow_id, resume, launcher.taken_over() if launcher else None)
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        if detach:
            os.waitpid(pid, 0)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rec = read_json(os.path.join(wfdir, "workflow.json"), {})
                if rec.get("driver_pid"):
                    return
                time.sleep(0.005)
            return
        try:
            os.waitpid(pid, 0)
        except KeyboardInterrupt:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            raise

    # ---------------------------------------------------------------- queries

    def _record(self, workflow_id: str) -> Dict[str, Any]:
        return read_json(os.path.join(self.wfdir(workflow_id), "workflow.json"), {})

    def get_workflow(self, workflow_id: str) -> WorkflowRecord:
        rec = self._record(workflow_id)
        phase = rec.get("phase", "Pending")
        message = rec.get("message")
        if phase in ("Pending", "Running") and rec.get("driver_pid") and not pid_alive(rec["driver_pid"], rec.get("driver_start")):
            # re-read: the driver may have finished between the two reads
            rec = self._record(workflow_id)
            phase = rec.get("phase", "Pending")
            if phase in ("Pending", "Running"):
                phase = "Error"
                message = f"the driver process died; resume the run with Workflow(id={workflow_id!r}).resume() or `dflow resume {workflow_id}`"
        if phase == "Running" and os.path.exists(os.path.join(self.workdir, workflow_id, SUSPENDED)):
            message = "suspended: no new step starts until it is resumed"
        from dflow.backend import WorkflowRecord

        return WorkflowRecord(
            id=workflow_id, name=rec.get("name", workflow_id), phase=phase, message=message,
            created_at=rec.get("created_at"), started_at=rec.get("started_at"), finished_at=rec.get("finished_at"),
            backend=self.name, location=os.path.join(self.workdir, workflow_id), labels=rec.get("labels") or {},
        )

    def get_spec(self, workflow_id: str) -> WorkflowSpec:
        text = read_text(os.path.join(self.wfdir(workflow_id), "spec.json"))
        if text is None:
            raise WorkflowNotFoundError(f"workflow {workflow_id!r} has no spec.json")
        from dflow.spec import WorkflowSpec

        return WorkflowSpec.from_json(text)

    def list_steps(self, workflow_id: str) -> List[StepRecord]:
        wfdir = self.wfdir(workflow_id)
        nodes = list(read_nodes(os.path.join(wfdir, "nodes.jsonl")).values())
        for n in nodes:
            if n.workdir and n.phase == "Running":
                n.progress = read_text(os.path.join(n.workdir, "progress"))
            elif n.workdir and n.phase == "Succeeded" and n.progress is None:
                n.progress = read_text(os.path.join(n.workdir, "progress"))
            if n.workdir:
                n.log_path = os.path.join(n.workdir, "log.txt")
        return nodes

    def list_workflows(self) -> List[WorkflowRecord]:
        out = []
        base = self.workdir
        try:
            names = os.listdir(base)
        except FileNotFoundError:
            return []
        for name in names:
            if os.path.isfile(os.path.join(base, name, "workflow.json")):
                try:
                    out.append(self.get_workflow(name))
                except (WorkflowNotFoundError, ValueError):
                    continue
        out.sort(key=lambda r: r.created_at or 0, reverse=True)
        return out

    def logs(self, workflow_id: str, step_id: str) -> str:
        for n in self.list_steps(workflow_id):
            if step_id in (n.id, n.display_name, n.key, n.name):
                if not n.workdir:
                    raise ValidationError(f"step {step_id!r} is a {n.type} node; only Pod steps have logs")
                return read_text(os.path.join(n.workdir, "log.txt")) or ""
        raise ValidationError(f"workflow {workflow_id!r} has no step {step_id!r} (give an id, name or key)")

    # ---------------------------------------------------------------- control

    def _completed(self, rec: Dict[str, Any]) -> bool:
        """The run has ended and recorded its end (a run whose driver died without recording one has not)."""
        pid = rec.get("driver_pid")
        return rec.get("phase") in FINAL and not (pid and pid_alive(pid, rec.get("driver_start")))

    def terminate(self, workflow_id: str) -> None:
        """End the run now. A run that has ended is refused as Argo refuses it, with Argo's words
        (code written for a cluster, like APEX's, looks for them)."""
        wfdir = self.wfdir(workflow_id)
        rec = self._record(workflow_id)
        if self._completed(rec):
            raise BackendError(f'cannot shutdown a completed workflow: workflow: "{workflow_id}", directory: '
                               f'"{wfdir}" (it ended {rec.get("phase")}); there is nothing to terminate')
        pid = rec.get("driver_pid")
        if pid and pid_alive(pid, rec.get("driver_start")):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid_alive(pid, rec.get("driver_start")):
                time.sleep(0.02)
            if pid_alive(pid, rec.get("driver_start")):
                os.kill(pid, signal.SIGKILL)
        cancel_leftovers(wfdir)
        rec = self._record(workflow_id)
        if rec.get("phase") not in FINAL:
            rec.update(phase="Failed", message="terminated", finished_at=time.time())
            atomic_write(os.path.join(wfdir, "workflow.json"), json.dumps(rec))
            atomic_write(os.path.join(wfdir, "status"), "Failed")

    def stop(self, workflow_id: str) -> None:
        """Argo's stop: the running steps end and nothing new starts, then the exit handler (``on_exit``)
        runs; without one (or without a driver to run it), as :meth:`terminate`."""
        rec = self._record(workflow_id)
        pid = rec.get("driver_pid")
        if self._completed(rec) or not self.get_spec(workflow_id).on_exit or not pid_alive(pid, rec.get("driver_start")):
            return self.terminate(workflow_id)
        os.kill(pid, signal.SIGUSR1)

    def suspend(self, workflow_id: str) -> None:
        """No new step starts until :meth:`resume`; running steps go on."""
        wfdir = self.wfdir(workflow_id)
        atomic_write(os.path.join(wfdir, SUSPENDED), str(time.time()))

    def resume(self, workflow_id: str, detach: bool = False) -> None:
        wfdir = self.wfdir(workflow_id)
        rec = self._record(workflow_id)
        flag = os.path.join(wfdir, SUSPENDED)
        if os.path.exists(flag):  # a suspended run goes on where it is
            os.unlink(flag)
            if rec.get("driver_pid") and pid_alive(rec["driver_pid"], rec.get("driver_start")):
                return
        if rec.get("driver_pid") and pid_alive(rec["driver_pid"], rec.get("driver_start")):
            raise BackendError(f"workflow {workflow_id!r} is still running (driver pid {rec['driver_pid']})")
        settings = rec.get("settings", {})
        if settings.get("storage_name") == "custom" and s3_config.get("storage_client") is None:
            raise ValidationError(
                f"workflow {workflow_id!r} keeps its artifacts through a custom storage client "
                "(s3_config['storage_client']); set the same client in this process before resuming it"
            )
        try:
            self.get_spec(workflow_id)  # a run that cannot start again says so now, not in a detached driver
        except ValueError as e:
            raise BackendError(f"workflow {workflow_id!r} cannot be resumed: its spec.json is unreadable ({e})") from None
        cancel_leftovers(wfdir)
        self._start_driver(wfdir, workflow_id, detach, resume=True)

    def delete(self, workflow_id: str) -> None:
        import shutil

        try:
            self.terminate(workflow_id)
        except BackendError:  # it has ended (terminate's only refusal): nothing to stop
            pass
        shutil.rmtree(self.wfdir(workflow_id))


def _driver_main(wfdir: str, workflow_id: str, resume: bool, launcher: Optional[ForkLauncher] = None) -> int:
    """The driver process: run the engine and record the end state."""
    from dflow.artifact import get_storage_client
    from dflow.backend import ReusedStep
    from dflow.spec import WorkflowSpec

    from .engine import Engine

    early: List[int] = []  # Argo's stop (SIGUSR1, see LocalBackend.stop) before the engine listens: kept for it
    signal.signal(signal.SIGUSR1, lambda *_: early.append(1))
    rec = read_json(os.path.join(wfdir, "workflow.json"), {})
    settings = rec.get("settings", {})
    rec.update(phase="Running", driver_pid=os.getpid(), driver_start=process_start_time(os.getpid()),
               started_at=rec.get("started_at") or time.time(), message=None, finished_at=None)
    atomic_write(os.path.join(wfdir, "workflow.json"), json.dumps(rec))
    atomic_write(os.path.join(wfdir, "status"), "Running")
    spec = WorkflowSpec.from_json(read_text(os.path.join(wfdir, "spec.json")) or "")
    reuse = [ReusedStep.model_validate(r) for r in read_json(os.path.join(wfdir, "reuse.json"), [])]
    previous = read_nodes(os.path.join(wfdir, "nodes.jsonl")) if resume else {}
    name = settings.get("storage_name") or "local"
    client = get_storage_client(None if name == "custom" else name, root=settings.get("storage_root") or os.path.dirname(wfdir))
    engine = Engine(wfdir, spec, workflow_id, settings, reuse, previous, client, name, launcher)
    engine.early_stop = early
    import asyncio  # (here, in the driver: the submitting process need not import it)

    try:
        phase, message = asyncio.run(engine.run())
    except BaseException as e:  # noqa: BLE001
        phase, message = "Error", f"the driver failed: {type(e).__name__}: {e}"
        traceback.print_exc()
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a late stop: the closed loop gave it back its default, an exit
    rec = read_json(os.path.join(wfdir, "workflow.json"), {})
    rec.update(phase=phase, message=message, finished_at=time.time())
    atomic_write(os.path.join(wfdir, "workflow.json"), json.dumps(rec))
    atomic_write(os.path.join(wfdir, "status"), phase)
    return 0
