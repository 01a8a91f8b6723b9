"""The local engine's step launcher for :class:`~dflow_dispatcher.executor.DispatcherExecutor`.

Each attempt of a step is one dpdispatcher submission (:class:`.remote_job.RemoteJob`):
its directory goes to the cluster, the job is submitted and watched, and its outputs and
log come back into the step's directory. With ``merge_sliced_step``, the slices of a
sliced step that arrive together (nothing new for ``MERGE_WINDOW`` seconds) go into one
submission and one scheduler job.

Handles are plain JSON and name the jobs (``jobs``), where they run (``remote``) and the
task directory of the step (``task``), so ``dflow terminate`` in another process cancels
them with a launcher made from the same options. The handle of a slice waiting to be
merged gets those fields when its batch is submitted (the engine records it again then).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

from dflow.launcher import LaunchHandle, PreparedStep, StepLauncher

from .dplog import load_dpdispatcher
from .jobs import BACK_DIR, EXIT_FILE, is_shell_batch, make_machine, task_dir_name
from .remote_job import RemoteJob, kill_jobs

__all__ = ["DispatcherLauncher", "MERGE_WINDOW"]

#: seconds without a new slice after which a merged batch is submitted
MERGE_WINDOW = 1.0


class _Batch:
    """Slices of one step waiting to go into one submission."""

    def __init__(self, key: Tuple[str, str, int]) -> None:
        self.key = key
        self.id = uuid.uuid4().hex[:12]
        self.members: List[Tuple[PreparedStep, LaunchHandle]] = []
        self.last = time.monotonic()
        self.job: Optional[RemoteJob] = None


class DispatcherLauncher(StepLauncher):
    """Runs prepared steps as dpdispatcher jobs (see the module docstring)."""

    poll_interval = 1.0

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        self.options = dict(options or {})
        self.merge = bool(self.options.get("merge_sliced_step"))
        # jobs in flight at once: each holds a connection; merged slices must all be let in to be merged
        self.slots = 100000 if self.merge else 32
        self.run_dir: Optional[str] = None
        self._lock = threading.Lock()
        self._jobs: Dict[str, RemoteJob] = {}
        self._batches: Dict[Tuple[str, str, int], _Batch] = {}
        self._by_id: Dict[str, _Batch] = {}

    def open(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def _staging(self, step: PreparedStep) -> str:
        base = os.path.join(self.run_dir or os.path.dirname(step.root), ".dispatcher")
        os.makedirs(base, exist_ok=True)
        return tempfile.mkdtemp(prefix="job-", dir=base)

    # ------------------------------------------------------------------ launch

    def launch(self, step: PreparedStep) -> LaunchHandle:
        handle: LaunchHandle = {"log_offset": _size(step.log_path)}
        if self.merge and step.task is not None and step.task.get("slice_index") is not None:
            return self._join_batch(step, handle)
        name = task_dir_name(step)
        job = RemoteJob(self.options, [step], [name], self._staging(step))
        job.submit()
        return self._handle_of(job, name, handle)

    def _handle_of(self, job: RemoteJob, name: str, handle: LaunchHandle) -> LaunchHandle:
        handle.update({"task": name, "remote": job.remote_root, "jobs": list(job.job_ids)})
        if job.error and not job.job_ids:
            handle["failed"] = job.error
        with self._lock:
            self._jobs[job.remote_root or job.staging] = job
        handle["key"] = job.remote_root or job.staging
        return handle

    def _join_batch(self, step: PreparedStep, handle: LaunchHandle) -> LaunchHandle:
        key = (step.workflow_id, step.name, step.attempt)
        with self._lock:
            batch = self._batches.get(key)
            if batch is None or batch.job is not None:
                batch = self._batches[key] = _Batch(key)
                self._by_id[batch.id] = batch
            batch.members.append((step, handle))
            batch.last = time.monotonic()
            handle["batch"] = batch.id
        return handle

    def _submit_batch(self, batch: _Batch) -> None:
        with self._lock:
            if batch.job is not None or time.monotonic() - batch.last < MERGE_WINDOW:
                return
            steps = [s for s, _ in batch.members]
            names = [task_dir_name(s) for s in steps]
            batch.job = RemoteJob(self.options, steps, names, self._staging(steps[0]), merged=True)
            if self._batches.get(batch.key) is batch:
                del self._batches[batch.key]
        with batch.job.lock:
            if any(h.get("cancelled") for _, h in batch.members):
                batch.job.ended, batch.job.error = True, "cancelled before the batch was submitted"
            else:
                batch.job.submit()
            for (_, h), name in zip(batch.members, names):
                self._handle_of(batch.job, name, h)

    def _job(self, handle: LaunchHandle) -> Optional[RemoteJob]:
        if "batch" in handle and "key" not in handle:
            batch = self._by_id.get(handle["batch"])
            if batch is None:
                return None
            self._submit_batch(batch)
        with self._lock:
            return self._jobs.get(handle.get("key", ""))

    # ------------------------------------------------------------------ watch

    def poll(self, step: PreparedStep, handle: LaunchHandle) -> Optional[int]:
        if handle.get("failed"):
            return 1
        job = self._job(handle)
        if job is None:
            return None  # a slice waiting for its batch
        if job.error and not job.job_ids:
            handle["failed"] = job.error
            return 1
        job.refresh()
        if not job.ended:
            return None
        code = job.exit_code(handle["task"])
        return 1 if code is None else code

    def describe(self, handle: LaunchHandle) -> Dict[str, str]:
        if handle.get("failed"):
            return {"state": "not submitted"}
        job = self._jobs.get(handle.get("key", ""))
        if job is None:
            return {"state": "waiting to be merged" if "batch" in handle else "submitting"}
        where = posixpath.join(job.remote_root, handle.get("task", ""))
        host = ((self.options.get("machine") or {}).get("remote_profile") or {}).get("hostname")
        return {"job": ",".join(job.job_ids), "state": job.state, "where": f"{host}:{where}" if host else where}

    # ------------------------------------------------------------------ stop

    def cancel(self, handle: LaunchHandle) -> None:
        handle["cancelled"] = True
        job = self._jobs.get(handle.get("key", ""))
        if job is not None:
            job.cancel()
            return
        if "batch" in handle and handle["batch"] in self._by_id:
            return  # not submitted yet: it never will be (see _submit_batch)
        if not handle.get("jobs"):
            return
        # another process launched it: reach the cluster with the same options
        load_dpdispatcher(bool(self.options.get("debug")))
        staging = tempfile.mkdtemp(prefix="dflow-dispatcher-cancel-")
        machine = None
        try:
            machine = make_machine(self.options, staging)
            machine.context.remote_root = handle.get("remote") or machine.context.remote_root
            tasks = [handle["task"]] if handle.get("task") and is_shell_batch(self.options) else []
            kill_jobs(machine, list(handle["jobs"]), tasks, str(handle.get("remote") or ""))
        finally:
            close = getattr(getattr(machine, "context", None), "close", None)
            if callable(close):
                close()
            shutil.rmtree(staging, ignore_errors=True)

    # ------------------------------------------------------------------ results

    def collect(self, step: PreparedStep, handle: LaunchHandle) -> None:
        job = self._jobs.get(handle.get("key", ""))
        notes: List[str] = []
        error = handle.get("failed") or (job.error if job is not None else None)
        code = None
        if job is not None and job.job_ids:
            if not job.ended:  # cancelled or timed out: what the job left still comes back
                job.ended = True
            job.fetch()
            task_dir = os.path.join(job.staging, handle["task"])
            _merge_back(os.path.join(task_dir, BACK_DIR), step.root)
            code = job.exit_code(handle["task"])
            extra = os.path.join(task_dir, ".dflow-job-output")
            if os.path.exists(extra):
                with open(extra) as f:
                    notes.append(f.read())
            if code is None and not handle.get("cancelled") and not error:
                error = (f"the job {','.join(job.job_ids)} ended before the step did (killed by the scheduler, "
                         f"out of time or cancelled outside dflow); dpdispatcher's last state: {job.state}")
            if not self.options.get("clean", True):
                notes.append(f"dflow: the job's directory is kept at {self.describe(handle).get('where')}\n")
        _replace_log(step.log_path, int(handle.get("log_offset") or 0),
                     os.path.join(job.staging, handle["task"], BACK_DIR, "log.txt") if job is not None and "task" in handle
                     else None, notes + ([f"dflow: {error}\n"] if error else []))
        if error and code in (None, 0):
            with open(os.path.join(step.root, "error.json"), "w") as f:
                json.dump({"type": "DispatcherJobError", "message": error}, f)
        if job is not None and "task" in handle:
            job.finish(handle["task"])
            if job.ended and len(job.collected) == len(job.names):
                with self._lock:
                    self._jobs.pop(handle.get("key", ""), None)

    def close(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job._close()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _merge_back(back: str, root: str) -> None:
    """The step's results (``.dflow-back``) into its directory, except the log and the exit code."""
    if not os.path.isdir(back):
        return
    for entry in os.listdir(back):
        if entry in ("log.txt", EXIT_FILE):
            continue
        src, dst = os.path.join(back, entry), os.path.join(root, entry)
        if os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def _replace_log(log_path: str, offset: int, remote_log: Optional[str], notes: List[str]) -> None:
    """The step's log: what it held before this attempt, then the job's log, then ``notes``."""
    with open(log_path, "ab") as f:
        f.truncate(offset)
        if remote_log and os.path.exists(remote_log):
            with open(remote_log, "rb") as r:
                shutil.copyfileobj(r, f)
        for note in notes:
            if note:
                f.write(note.encode())
