"""The step launcher of both Slurm executors: ``sbatch`` a step, watch it with ``squeue``, ``scancel`` it.

* ``SlurmJobTemplate`` on the local backend: Slurm's commands run on this machine and
  the job runs the step where the engine prepared it (a laptop or a login node with
  Slurm: the step directory is on a file system the compute node sees).
* ``SlurmRemoteExecutor``: Slurm's commands run on a login host over SSH; the step's
  directory goes to ``workdir`` there (relocated, with dflow's runtime for a Python OP)
  and its results come back.

The batch script is the executor's ``header`` followed by a script that runs the step
and records its exit code; ``sbatch --parsable`` gives the job id. One ``squeue`` call
per poll interval tells the state of every job of the launcher; a job it no longer
lists has ended, and the recorded exit code says how the step did (no code: the
scheduler ended the job, and its own output goes into the step's log).
"""

from __future__ import annotations

import os
import posixpath
import shlex
import shutil
import tempfile
import threading
import time
import uuid
from typing import Any, Dict, List, Optional

from dflow.launcher import LaunchHandle, PreparedStep, StepLauncher

from .secrets import lookup_password
from .transport import LocalTransport, SSHTransport, Transport, TransportError

__all__ = ["SbatchLauncher", "batch_script"]

EXIT_FILE = ".dflow-exit"
BATCH_FILE = ".dflow-batch.sh"
JOB_OUTPUT = ".dflow-job.out"
#: what comes back from the cluster after a job
RESULTS = ["outputs", "log.txt", EXIT_FILE, "error.json", "progress", "workdir", JOB_OUTPUT]
_ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING",
           "STAGE_OUT", "STOPPED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT", "RESV_DEL_HOLD"}


def batch_script(header: str, step: PreparedStep, exit_file: str) -> str:
    """``header`` (``#!`` and ``#SBATCH`` lines) followed by the script that runs ``step``."""
    head = (header or "").strip("\n")
    lines = [ln.lstrip() if ln.lstrip().startswith("#") else ln for ln in head.splitlines()]
    if not lines or not lines[0].startswith("#!"):
        lines.insert(0, "#!/bin/sh")
    body = step.shell_script(exit_file).split("\n", 1)[1]  # without its own #! line
    return "\n".join(lines) + "\n" + body


class _Queue:
    """The states of this launcher's jobs, from one ``squeue`` call at most every ``every`` seconds."""

    def __init__(self, transport: Transport, every: float) -> None:
        self.transport = transport
        self.every = every
        self.lock = threading.Lock()
        self.states: Dict[str, str] = {}
        self.at = 0.0

    def state(self, job: str) -> Optional[str]:
        """The job's state, or None once Slurm lists it no more among the pending and running jobs."""
        with self.lock:
            if time.monotonic() - self.at >= self.every:
                out = self.transport.check('squeue -h -u "$(id -un)" -o "%i %T"', "listing the jobs (squeue)")
                self.states = dict(line.split(None, 1) for line in out.splitlines() if len(line.split(None, 1)) == 2)
                self.at = time.monotonic()
            state = self.states.get(job)
        return state.strip() if state and state.strip() in _ACTIVE else None

    def forget(self) -> None:
        with self.lock:
            self.at = 0.0


class SbatchLauncher(StepLauncher):
    """Runs prepared steps as Slurm batch jobs (see the module docstring)."""

    poll_interval = 1.0
    slots = 64

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        self.options = dict(options or {})
        self.remote = bool(self.options.get("ssh"))
        self.run_dir: Optional[str] = None
        self._transport: Optional[Transport] = None
        self._queue: Optional[_Queue] = None
        self._lock = threading.RLock()
        self._home: Optional[str] = None

    # ------------------------------------------------------------------ plumbing

    @property
    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                if self.remote:
                    ssh = dict(self.options["ssh"])
                    self._transport = SSHTransport(ssh, {"password": lookup_password(ssh)} if ssh.get("password")
                                                   else None)
                else:
                    self._transport = LocalTransport()
            return self._transport

    @property
    def queue(self) -> _Queue:
        with self._lock:
            if self._queue is None:
                self._queue = _Queue(self.transport, max(0.5, float(self.options.get("interval") or 1) / 2))
            return self._queue

    def open(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _job_dir(self, step: PreparedStep) -> str:
        """Where the job runs: the step's own directory here, or below ``workdir`` on the login host."""
        if not self.remote:
            return step.root
        template = str(self.options.get("workdir") or "~/dflow/workflows/{{workflow.name}}/{{pod.name}}")
        pod = f"{step.name or 'step'}-{step.node_id}-{step.attempt}-{uuid.uuid4().hex[:8]}"
        path = template.replace("{{workflow.name}}", step.workflow_id or "workflow").replace("{{pod.name}}", pod)
        if path.startswith("~"):
            if self._home is None:
                self._home = self.transport.check("printf %s \"$HOME\"", "finding the home directory").strip()
            path = self._home + path[1:]
        if not path.startswith("/"):
            raise TransportError(f"workdir {template!r} must be an absolute path or start with ~")
        return path

    # ------------------------------------------------------------------ launch

    def launch(self, step: PreparedStep) -> LaunchHandle:
        handle: LaunchHandle = {"log_offset": _size(step.log_path)}
        try:
            job_dir = self._job_dir(step)
            handle["dir"] = job_dir
            run = step
            if self.remote:
                staging = tempfile.mkdtemp(prefix="dflow-sbatch-", dir=self.run_dir)
                try:
                    run = step.export(os.path.join(staging, "step"), job_dir, python=self._python())
                    self._remote_command(run, step)
                    with open(os.path.join(staging, "step", BATCH_FILE), "w") as f:
                        f.write(batch_script(self.options.get("header", ""), run, posixpath.join(job_dir, EXIT_FILE)))
                    self.transport.put_tree(os.path.join(staging, "step"), job_dir)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
            else:
                self._remote_command(run, step)
                with open(os.path.join(job_dir, BATCH_FILE), "w") as f:
                    f.write(batch_script(self.options.get("header", ""), run, os.path.join(job_dir, EXIT_FILE)))
            q = shlex.quote
            name = "dflow-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in (step.name or "step"))[:40]
            out = self.transport.check(
                f"cd {q(job_dir)} && mkdir -p {q(os.path.relpath(run.cwd, run.root))} outputs/parameters "
                f"outputs/artifacts && sbatch --parsable --job-name={q(name)} --output={q(job_dir + '/' + JOB_OUTPUT)} "
                f"{q(job_dir + '/' + BATCH_FILE)}", "submitting the job (sbatch)")
            handle["job"] = out.strip().splitlines()[-1].split(";")[0].strip()
            if not handle["job"].isdigit():
                raise TransportError(f"sbatch answered {out.strip()!r}, not a job id")
            self.queue.forget()
        except Exception as e:  # noqa: BLE001 - a step that cannot be submitted fails, saying why
            handle["failed"] = str(e) if isinstance(e, TransportError) else f"{type(e).__name__}: {e}"
        return handle

    def _python(self) -> str:
        rc = self.options.get("remote_command")
        return rc[0] if rc else "python3"

    def _remote_command(self, run: PreparedStep, step: PreparedStep) -> None:
        rc = self.options.get("remote_command")
        if rc and step.task is None:
            run.command = list(rc) + run.command[-1:]

    # ------------------------------------------------------------------ watch

    def poll(self, step: PreparedStep, handle: LaunchHandle) -> Optional[int]:
        if handle.get("failed"):
            return 1
        if self.queue.state(handle["job"]) is not None:
            return None
        if self.remote:
            code, out, _ = self.transport.run(f"cat {shlex.quote(posixpath.join(handle['dir'], EXIT_FILE))}")
            text = out.strip() if code == 0 else ""
        else:
            try:
                with open(os.path.join(handle["dir"], EXIT_FILE)) as f:
                    text = f.read().strip()
            except OSError:
                text = ""
        if not text.lstrip("-").isdigit():
            handle["ended"] = "without an exit code"
            return 1
        code = int(text)
        return -(code - 128) if code > 128 else code

    def describe(self, handle: LaunchHandle) -> Dict[str, str]:
        if handle.get("failed"):
            return {"state": "not submitted"}
        state = None
        if self._queue is not None:
            with self._queue.lock:
                state = self._queue.states.get(handle.get("job", ""))
        return {"job": str(handle.get("job", "")), "state": (state or "SUBMITTED").strip(),
                "where": f"{self.transport.where}:{handle.get('dir', '')}"}

    # ------------------------------------------------------------------ stop and collect

    def cancel(self, handle: LaunchHandle) -> None:
        handle["cancelled"] = True
        if handle.get("job"):
            self.transport.run(f"scancel {shlex.quote(str(handle['job']))}")
            self.queue.forget()

    def collect(self, step: PreparedStep, handle: LaunchHandle) -> None:
        notes: List[str] = []
        log_from = None
        staging = None
        try:
            if handle.get("job") and self.remote:
                staging = tempfile.mkdtemp(prefix="dflow-sbatch-back-", dir=self.run_dir)
                self.transport.get_paths(handle["dir"], RESULTS, staging)
                for entry in os.listdir(staging):
                    if entry in ("log.txt", EXIT_FILE, JOB_OUTPUT):
                        continue
                    src, dst = os.path.join(staging, entry), os.path.join(step.root, entry)
                    (shutil.copytree(src, dst, dirs_exist_ok=True) if os.path.isdir(src) else shutil.copy2(src, dst))
                log_from = os.path.join(staging, "log.txt")
                job_out = os.path.join(staging, JOB_OUTPUT)
            else:
                job_out = os.path.join(handle.get("dir", step.root), JOB_OUTPUT)
            if handle.get("ended") or handle.get("failed"):
                if os.path.exists(job_out) and os.path.getsize(job_out):
                    with open(job_out, errors="replace") as f:
                        notes.append(f"--- the output of Slurm job {handle.get('job')} ---\n{f.read()[-20000:]}\n")
                reason = handle.get("failed") or (
                    f"Slurm job {handle.get('job')} ended before the step did (cancelled, out of time or killed)")
                notes.append(f"dflow: {reason}\n")
                if not handle.get("cancelled"):
                    _error_json(step.root, reason)
            if self.remote and handle.get("dir") and self.options.get("clean", True):
                self.transport.run(f"rm -rf {shlex.quote(handle['dir'])}")
            elif self.remote and handle.get("dir"):
                notes.append(f"dflow: the job's directory is kept at {self.transport.where}:{handle['dir']}\n")
        except TransportError as e:
            notes.append(f"dflow: bringing the results back failed: {e}\n")
            _error_json(step.root, str(e))
        finally:
            _rewrite_log(step.log_path, int(handle.get("log_offset") or 0), log_from, notes, replace=self.remote)
            if staging:
                shutil.rmtree(staging, ignore_errors=True)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _error_json(root: str, message: str) -> None:
    import json

    path = os.path.join(root, "error.json")
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump({"type": "SlurmJobError", "message": message}, f)


def _rewrite_log(log_path: str, offset: int, remote_log: Optional[str], notes: List[str], replace: bool) -> None:
    """Append the job's log (a remote job: in place of what this attempt wrote here) and ``notes``."""
    with open(log_path, "ab") as f:
        if replace:
            f.truncate(offset)
        if remote_log and os.path.exists(remote_log):
            with open(remote_log, "rb") as r:
                shutil.copyfileobj(r, f)
        for note in notes:
            f.write(note.encode())
