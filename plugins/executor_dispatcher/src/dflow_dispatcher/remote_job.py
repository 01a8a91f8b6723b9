"""One dpdispatcher submission in flight: the tasks of one step attempt, or of a merged batch of slices.

It uses dpdispatcher's own objects and lifecycle (``Machine``, ``Resources``, ``Task``,
``Submission``: generate the jobs, upload, submit, update their state, download, clean),
with two choices of its own: dpdispatcher never resubmits a job (the local engine
decides about retries, from the step's real exit code), and results come back also
when a job failed, so the step's log says why.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import threading
import time
import types
from typing import Any, Dict, List, Optional

from dflow.launcher import PreparedStep

from .dplog import load_dpdispatcher
from .jobs import (
    BACK_DIR,
    EXIT_FILE,
    PID_FILE,
    TASK_LOG,
    is_shell_batch,
    make_machine,
    make_resources,
    make_task,
    stage_step,
)

__all__ = ["RemoteJob", "kill_jobs"]

#: seconds between two scheduler queries of one submission
MIN_CHECK = 0.5


def _state_name(state: Any) -> str:
    return getattr(state, "name", str(state))


class RemoteJob:
    """The dpdispatcher submission of ``steps`` (each a task in its own directory ``names[i]``)."""

    def __init__(self, options: Dict[str, Any], steps: List[PreparedStep], names: List[str], staging: str,
                 merged: bool = False) -> None:
        self.options = options
        self.steps = steps
        self.names = names
        self.staging = staging
        self.merged = merged
        self.lock = threading.RLock()
        self.state = "submitting"
        self.job_ids: List[str] = []
        self.remote_root = ""
        self.error: Optional[str] = None
        self.ended = False
        self.fetched = False
        self.cancelled = False
        self.checked = 0.0
        self.collected: set = set()
        self.machine: Any = None
        self.submission: Any = None

    # ------------------------------------------------------------------ submit

    def submit(self) -> None:
        """Stage, upload and submit; on failure ``error`` says why (the steps then fail)."""
        load_dpdispatcher(bool(self.options.get("debug")))
        from dpdispatcher import Submission

        attempts = 1 + max(0, int(self.options.get("retry_on_submission_error") or 0))
        for attempt in range(attempts):
            try:
                os.makedirs(self.staging, exist_ok=True)
                self.machine = make_machine(self.options, self.staging)
                tasks = [make_task(s, n, self.options) for s, n in zip(self.steps, self.names)]
                resources = make_resources(self.options, len(tasks), self.merged)
                self.submission = Submission(work_base=".", machine=self.machine, resources=resources, task_list=tasks)
                # grouping the tasks into jobs binds the submission to its final remote directory
                self.submission.generate_jobs()
                self.remote_root = str(self.machine.context.remote_root)
                for step, name in zip(self.steps, self.names):
                    stage_step(step, os.path.join(self.staging, name), posixpath.join(self.remote_root, name),
                               self.options)
                _run_python(self.options.get("pre_script"), self)
                self.submission.upload_jobs()
                self.submission.update_submission_state()  # every job "unsubmitted": submit them
                self.submission.handle_unexpected_submission_state()
                self.job_ids = [str(j.job_id) for j in self.submission.belonging_jobs]
                if not all(self.job_ids):
                    raise RuntimeError("the scheduler did not accept the job (no job id); it may be over its job limit")
                self.state = "submitted"
                self.error = None
                return
            except Exception as e:  # noqa: BLE001 - any failure to submit fails the steps, with the reason
                self.error = (f"submitting the job through dpdispatcher ({_where(self.options)}) failed: "
                              f"{type(e).__name__}: {e}" + (f" (after {attempt + 1} attempts)" if attempt else ""))
                self._close()
                if attempt + 1 < attempts:
                    time.sleep(min(2 ** attempt, 30))
        self.ended = True
        self.state = "not submitted"

    # ------------------------------------------------------------------ watch

    def refresh(self) -> None:
        """Ask the scheduler for the jobs' states (at most every ``MIN_CHECK`` seconds); fetch results once ended."""
        from dpdispatcher.utils.job_status import JobStatus

        with self.lock:
            if self.ended or time.monotonic() - self.checked < MIN_CHECK:
                return
            self.checked = time.monotonic()
            self.submission.update_submission_state()
            states = [j.job_state for j in self.submission.belonging_jobs]
            self.state = ",".join(sorted({_state_name(s) for s in states}))
            over = (JobStatus.finished, JobStatus.terminated, JobStatus.failed, JobStatus.unknown)
            if all(s in over for s in states):
                self.ended = True
                self.fetch()

    def fetch(self) -> None:
        """Bring back what every task left (``.dflow-back``), and the job's own output where a task left nothing."""
        with self.lock:
            if self.fetched or self.submission is None:
                return
            self.fetched = True
            try:
                self.submission.download_jobs(include_failed=True)
            except Exception as e:  # noqa: BLE001 - the steps fail with this in their log
                self.error = f"downloading the results failed: {type(e).__name__}: {e}"
            ctx = self.machine.context
            for name in self.names:
                if os.path.exists(os.path.join(self.staging, name, BACK_DIR, EXIT_FILE)):
                    continue
                notes = []
                for rel in (f"{name}/log.txt", f"{name}/{TASK_LOG}"):
                    notes.append(_read_remote(ctx, rel, rel))
                for jid in self.job_ids:
                    notes.append(_read_remote(ctx, f"slurm-{jid}.out", f"the job's output (slurm-{jid}.out)"))
                for job in self.submission.belonging_jobs:
                    notes.append(_read_remote(ctx, f"{job.job_hash}.out", "the job's output"))
                os.makedirs(os.path.join(self.staging, name), exist_ok=True)
                with open(os.path.join(self.staging, name, ".dflow-job-output"), "w") as f:
                    f.write("".join(n for n in notes if n))

    def exit_code(self, name: str) -> Optional[int]:
        """The exit code of task ``name`` (None: the step did not run to its end)."""
        try:
            with open(os.path.join(self.staging, name, BACK_DIR, EXIT_FILE)) as f:
                code = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return -(code - 128) if code > 128 else code

    # ------------------------------------------------------------------ stop

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            if self.machine is None or not self.job_ids:
                return
            kill_jobs(self.machine, self.job_ids, self.names if is_shell_batch(self.options) else [], self.remote_root)

    def finish(self, name: str) -> None:
        """Task ``name`` was collected; after the last one, clean the remote directory (unless kept) and the staging."""
        with self.lock:
            self.collected.add(name)
            if len(self.collected) < len(self.names):
                return
            if self.options.get("clean", True) and self.submission is not None and self.remote_root:
                try:
                    self.submission.clean_jobs()
                except Exception:  # noqa: BLE001 - a directory left behind must not fail the step
                    pass
            _run_python(self.options.get("post_script"), self)
            self._close()
            shutil.rmtree(self.staging, ignore_errors=True)

    def _close(self) -> None:
        ctx = getattr(self.machine, "context", None)
        close = getattr(ctx, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001
                pass


def kill_jobs(machine: Any, job_ids: List[str], shell_tasks: List[str], remote_root: str) -> None:
    """Cancel the jobs (``scancel`` for Slurm, ...); for the Shell batch type also each task's process session."""
    for jid in job_ids:
        try:
            machine.kill(types.SimpleNamespace(job_id=jid))
        except Exception:  # noqa: BLE001 - the job may be gone already
            pass
    for name in shell_tasks:
        pid_file = posixpath.join(remote_root, name, PID_FILE)
        try:
            machine.context.block_call(f'[ -s {pid_file} ] && kill -9 -- -"$(cat {pid_file})" 2>/dev/null; true')
        except Exception:  # noqa: BLE001
            pass


def _where(options: Dict[str, Any]) -> str:
    m = options.get("machine") or {}
    p = m.get("remote_profile") or {}
    login = f" at {p.get('username')}@{p.get('hostname')}:{p.get('port', 22)}" if p.get("hostname") else ""
    return f"{m.get('batch_type')} via {m.get('context_type')}{login}"


def _read_remote(ctx: Any, rel: str, title: str) -> str:
    try:
        if not ctx.check_file_exists(rel):
            return ""
        text = ctx.read_file(rel)
    except Exception:  # noqa: BLE001 - best effort: the step fails anyway
        return ""
    return f"--- {title} ---\n{text[-20000:]}\n" if text.strip() else ""


def _run_python(code: Optional[str], job: RemoteJob) -> None:
    """``pre_script``/``post_script``: Python lines the user gave, run with the submission at hand."""
    if code:
        exec(compile(code, "<dispatcher script>", "exec"), {"os": os, "json": json, "machine": job.machine,
                                                           "submission": job.submission})
