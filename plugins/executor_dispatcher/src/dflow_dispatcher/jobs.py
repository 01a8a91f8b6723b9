"""Prepared steps as dpdispatcher tasks: the files that go to the cluster and the commands that run there.

Each step attempt becomes one dpdispatcher ``Task`` in its own directory below the
submission's remote root (``task_work_path``: unique per attempt, so dpdispatcher never
mistakes it for an earlier submission). The directory holds a relocated copy of the
prepared step (:meth:`dflow.launcher.PreparedStep.export`) and two small ``sh`` scripts:

* ``.dflow-run.sh`` runs the step and writes its exit code to ``.dflow-exit``, and exits
  0 itself: dpdispatcher then sees a finished job whenever the step ran to its end, and
  the real exit code (0, 3 for a transient error, ...) is read from the file. A job the
  scheduler killed leaves no such file.
* ``.dflow-collect.sh`` moves what comes back (``outputs/``, ``log.txt``, the exit code,
  ``error.json``, the output paths of a script template) into ``.dflow-back/``, the one
  backward file of the task, so dpdispatcher never looks for a file the step did not write.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import shlex
import uuid
from typing import Any, Dict, List, Optional

from dflow.launcher import RUNTIME_DIR, PreparedStep

from .secrets import reveal_secrets

__all__ = [
    "RUN_SCRIPT", "COLLECT_SCRIPT", "BACK_DIR", "EXIT_FILE", "PID_FILE", "TASK_LOG",
    "task_dir_name", "make_task", "stage_step", "make_machine", "make_resources", "is_shell_batch",
]

RUN_SCRIPT = ".dflow-run.sh"
COLLECT_SCRIPT = ".dflow-collect.sh"
BACK_DIR = ".dflow-back"
EXIT_FILE = ".dflow-exit"
PID_FILE = ".dflow-pid"
TASK_LOG = ".dflow-task.log"
#: what a step may write, besides the output paths of a script template
_RESULTS = ["log.txt", EXIT_FILE, "outputs", "error.json", "progress"]


def task_dir_name(step: PreparedStep) -> str:
    """A directory name for one attempt of ``step``, unique on the cluster."""
    base = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{step.name or 'step'}")[:40]
    return f"{base}-{step.attempt}-{uuid.uuid4().hex[:10]}"


def is_shell_batch(options: Dict[str, Any]) -> bool:
    """Jobs of the ``Shell`` batch type run on the login host itself (no scheduler)."""
    return str(options["machine"].get("batch_type", "")).lower() == "shell"


def _outputs_of(step: PreparedStep) -> List[str]:
    """Paths (relative to the step's root) the step writes its results to."""
    found = list(_RESULTS)
    paths = os.path.join(step.root, "paths.json")
    if os.path.exists(paths):  # a script template: its declared output paths below workdir
        with open(paths) as f:
            mapping = json.load(f)
        for local in mapping.values():
            if not os.path.exists(local):  # inputs are there already; outputs are not yet
                found.append(os.path.relpath(local, step.root))
    return found


def make_task(step: PreparedStep, name: str, options: Dict[str, Any]) -> Any:
    """The dpdispatcher ``Task`` of one attempt, run in the directory ``name``."""
    from dpdispatcher import Task

    forward = sorted(n for n in os.listdir(step.root) if n not in ("log.txt", RUNTIME_DIR))
    if step.task is not None:
        forward.append(RUNTIME_DIR)
    forward += [RUN_SCRIPT, COLLECT_SCRIPT]
    cwd = os.path.relpath(step.cwd, step.root)
    prepare = "mkdir -p " + " ".join(shlex.quote(p) for p in (cwd, "outputs/parameters", "outputs/artifacts"))
    if is_shell_batch(options):
        # its own session, so a cancel ends everything the step started
        run = (f"{{ if command -v setsid >/dev/null 2>&1; then setsid sh {RUN_SCRIPT}; else sh {RUN_SCRIPT}; fi; }} & "
               f"echo $! > {PID_FILE}; wait $!")
    else:
        run = f"sh {RUN_SCRIPT}"
    spec = dict(options.get("task") or {})
    spec.update({
        "command": f"{prepare} && {run}; sh {COLLECT_SCRIPT}",
        "task_work_path": name,
        "forward_files": forward,
        "backward_files": [BACK_DIR],
        "outlog": TASK_LOG,
        "errlog": TASK_LOG,
    })
    return Task.load_from_dict(spec)


def stage_step(step: PreparedStep, local_dir: str, remote_dir: str, options: Dict[str, Any]) -> PreparedStep:
    """Write the task directory ``local_dir`` of ``step``, to run at ``remote_dir``; return the relocated step."""
    remote_command = options.get("remote_command")
    python = remote_command[0] if (remote_command and step.task is not None) else "python3"
    outputs = _outputs_of(step)
    moved = step.export(local_dir, remote_dir, python=python)
    if remote_command and step.task is None:
        # the template's interpreter is replaced; the script stays the last argument
        moved.command = list(remote_command) + moved.command[-1:]
    moved.env.update(options.get("envs") or {})
    with open(os.path.join(local_dir, RUN_SCRIPT), "w") as f:
        f.write(moved.shell_script(posixpath.join(remote_dir, EXIT_FILE)))
    lines = ["#!/bin/sh", "# dflow: move the step's results into the one directory that comes back",
             f"mkdir -p {BACK_DIR}"]
    for rel in outputs:
        q = shlex.quote(rel)
        lines.append(f'if [ -e {q} ]; then mkdir -p "{BACK_DIR}/$(dirname {q})" && mv {q} {BACK_DIR}/{q}; fi')
    with open(os.path.join(local_dir, COLLECT_SCRIPT), "w") as f:
        f.write("\n".join(lines) + "\n")
    return moved


def make_machine(options: Dict[str, Any], local_root: str, remote_root: Optional[str] = None) -> Any:
    """A dpdispatcher ``Machine`` for the recorded options (credentials looked up here, never stored)."""
    from dpdispatcher import Machine

    spec = reveal_secrets(copy.deepcopy(options["machine"]))
    spec["local_root"] = local_root
    context = str(spec.get("context_type", "")).lower()
    if context in ("lazylocal", "lazylocalcontext"):
        spec.pop("remote_root", None)
    else:
        spec["remote_root"] = remote_root or spec.get("remote_root")
        spec.setdefault("remote_profile", {})
        # the first job on a new cluster account: make the root and its parents
        spec.setdefault("create_remote_root", True)
    return Machine.load_from_dict(spec)


def make_resources(options: Dict[str, Any], tasks: int, merged: bool) -> Any:
    """dpdispatcher ``Resources``; a merged batch of slices goes in one job unless the user set ``group_size``."""
    from dpdispatcher import Resources

    spec = copy.deepcopy(options["resources"])
    if merged:
        if not options.get("group_size_given"):
            spec["group_size"] = max(1, tasks)
        spec.setdefault("para_deg", max(1, int(spec.get("cpu_per_node") or 1)))
    return Resources.load_from_dict(spec)
