"""Step launchers: the seam between the local engine and the place a step runs.

The local engine keeps the state of a run (node records, retries, timeouts, the order
of steps, what a terminated run must stop); a *launcher* only starts a prepared step,
watches it and stops it. The local backend's own launcher forks each attempt on this
machine; an executor plugin registers a launcher that submits the step to a batch
scheduler or runs it on another host (``register_executors(register)`` with
``launcher=...``, see :mod:`dflow.hookspecs`).

A prepared step is a directory, ``PreparedStep.root``::

    root/
      inputs/parameters/NAME    the text of each input parameter
      inputs/artifacts/NAME/    each input artifact (with its .dflow/ catalog)
      workdir/                  the step's working directory
      script                    what ``command`` runs: the user's script, or the runtime stub of a Python OP
      task.json                 Python OPs: the step runtime's task (docs/runtime-contract.md)
      outputs/parameters/       written by the step
      outputs/artifacts/        written by the step
      log.txt                   the step's standard output and error

Every path in ``command``, ``env``, ``script`` and ``task.json`` lies below ``root``. A
launcher that runs the step elsewhere copies the directory over, calls
:meth:`PreparedStep.relocate` to rewrite those paths for the other side, runs the
relocated ``command`` in the relocated ``cwd``, and copies ``outputs/`` and ``log.txt``
back in :meth:`StepLauncher.collect`. A Python OP's step needs ``python3`` (3.8 or
later) on the other side and core's ``dflow`` package, which is standard-library only
where a step runs: :func:`runtime_package_dir` says which directory to ship, and the
relocated ``env`` already points ``PYTHONPATH`` at ``<new root>/.dflow-runtime`` for it.

Handles are plain JSON: the engine records them next to the step, so a later process
(``dflow terminate``, a resume after the driver was killed) can cancel what a dead
driver launched, with a new launcher made from the same options.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = [
    "PreparedStep",
    "StepLauncher",
    "LaunchHandle",
    "LaunchError",
    "RUNTIME_DIR",
    "runtime_package_dir",
]

#: a launch handle: JSON data saying how to find the launched step again (pid, job id, ...)
LaunchHandle = Dict[str, Any]

#: where a relocated step expects core's ``dflow`` package (relative to its root)
RUNTIME_DIR = ".dflow-runtime"


class LaunchError(RuntimeError):
    """A launcher could not start, watch or stop a step; the message says where and why."""


def runtime_package_dir() -> str:
    """The directory of core's ``dflow`` package on this machine, to ship where a Python OP step runs.

    Put it (the ``dflow`` folder itself) at ``<relocated root>/.dflow-runtime/dflow``.
    """
    import dflow

    return os.path.dirname(os.path.abspath(dflow.__file__))


@dataclasses.dataclass
class PreparedStep:
    """One attempt of one step, ready to run: everything it reads and writes is below ``root``."""

    root: str
    command: List[str]
    cwd: str
    env: Dict[str, str]
    log_path: str
    timeout: Optional[float] = None
    #: the step runtime's task for a Python OP (also in ``root/task.json``); None for scripts
    task: Optional[Dict[str, Any]] = None
    #: True when ``command`` runs the unmodified runtime stub: a launcher on this machine
    #: may then call :func:`dflow.runtime.run_task` on ``task`` directly instead
    inline: bool = False
    #: files below ``root`` (relative names) that hold absolute paths of ``root``
    text_files: List[str] = dataclasses.field(default_factory=list)
    #: the executor the spec records for this step: ``{"name": ..., "options": {...}}`` or None
    executor: Optional[Dict[str, Any]] = None
    workflow_id: str = ""
    node_id: str = ""
    name: str = ""
    key: Optional[str] = None
    attempt: int = 1

    def relocate(self, new_root: str) -> Tuple["PreparedStep", Dict[str, str]]:
        """This step as it is seen from ``new_root`` on another machine.

        Returns the rewritten step (command, cwd, env, log path and task below
        ``new_root``) and the new text of each of ``text_files``, to write there in
        place of the copies of this machine's files.
        """
        old = self.root.rstrip("/")
        new = new_root.rstrip("/")

        def move(text: str) -> str:
            return text.replace(old + "/", new + "/") if text != old else new

        files: Dict[str, str] = {}
        for rel in self.text_files:
            with open(os.path.join(self.root, rel)) as f:
                files[rel] = move(f.read())
        env = {k: move(v) for k, v in self.env.items()}
        if self.task is not None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (new + "/" + RUNTIME_DIR, env.get("PYTHONPATH")) if p)
        task = json.loads(move(json.dumps(self.task))) if self.task is not None else None
        return dataclasses.replace(
            self, root=new, command=[move(c) for c in self.command], cwd=move(self.cwd), env=env,
            log_path=move(self.log_path), task=task, inline=False,
        ), files

    def export(self, directory: str, new_root: str, python: str = "python3") -> "PreparedStep":
        """Copy this step into ``directory``, as it must look at ``new_root`` on another machine.

        ``directory`` is what a launcher then transfers to ``new_root`` (by any means).
        The copy holds the inputs (files hard-linked where the file system allows it,
        links to packages followed), the relocated text files and, for a Python OP, core's
        ``dflow`` package at :data:`RUNTIME_DIR` (its Python sources only). The returned
        step is relocated to ``new_root``; its environment keeps no path of this machine
        in ``PYTHONPATH``, and a Python OP runs with ``python`` (the interpreter on the
        other side) instead of this machine's.
        """
        moved, files = self.relocate(new_root)
        skip = {os.path.join(self.root, "log.txt"), os.path.join(self.root, RUNTIME_DIR)}
        _copy_tree(self.root, directory, skip)
        for rel, text in files.items():
            target = os.path.join(directory, rel)
            if os.path.lexists(target):
                os.unlink(target)  # a hard link: never write through it into the original
            with open(target, "w") as f:
                f.write(text)
        new = new_root.rstrip("/")
        env = dict(moved.env)
        if "PYTHONPATH" in env:
            kept = [p for p in env["PYTHONPATH"].split(os.pathsep) if p == new or p.startswith(new + "/")]
            if kept:
                env["PYTHONPATH"] = os.pathsep.join(kept)
            else:
                del env["PYTHONPATH"]
        command = list(moved.command)
        if self.task is not None:
            shutil.copytree(runtime_package_dir(), os.path.join(directory, RUNTIME_DIR, "dflow"), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.json", "*.md"))
            if command and os.path.isabs(command[0]) and os.path.realpath(command[0]) == os.path.realpath(sys.executable):
                command[0] = python
        return dataclasses.replace(moved, env=env, command=command)

    def shell_script(self, exit_file: str, log: bool = True) -> str:
        """A POSIX ``sh`` script that runs this step and writes its exit code to ``exit_file``.

        It exports the step's environment, runs ``command`` in ``cwd`` with standard
        output and error appended to ``log_path`` (when ``log``), and records the exit
        code (``128 + N`` when the step was ended by signal ``N``, as the shell reports
        it). The script itself exits 0 once the code is written, so a batch scheduler
        tells "the step failed" (read the file) from "the job was killed" (no file).
        """
        lines = ["#!/bin/sh", "# dflow: run one step attempt and record its exit code"]
        for k, v in sorted(self.env.items()):
            lines.append(f"export {k}={shlex.quote(v)}")
        lines.append(f"rm -f {shlex.quote(exit_file)}")
        lines.append(f"cd {shlex.quote(self.cwd)} || {{ echo 127 > {shlex.quote(exit_file)}; exit 0; }}")
        run = " ".join(shlex.quote(c) for c in self.command)
        if log:
            run += f" >> {shlex.quote(self.log_path)} 2>&1"
        lines.append(f"{run} < /dev/null")
        lines.append(f"echo $? > {shlex.quote(exit_file)}.part && mv {shlex.quote(exit_file)}.part {shlex.quote(exit_file)}")
        lines.append("exit 0")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "PreparedStep":
        return cls(**json.loads(text))


def _copy_tree(src: str, dst: str, skip: Any) -> None:
    """``src`` into ``dst``: files hard-linked (copied across file systems), links followed."""

    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(os.path.realpath(a), b)
        except OSError:
            shutil.copy2(a, b)

    def ignore(folder: str, names: List[str]) -> List[str]:
        return [n for n in names if os.path.join(folder, n) in skip]

    shutil.copytree(src, dst, symlinks=False, copy_function=link_or_copy, ignore=ignore, dirs_exist_ok=True)


#: ``report(handle, status)``: the engine records a launched step's handle (to cancel it
#: later, from any process) and the status a launcher describes, for ``dflow get``
Report = Callable[[LaunchHandle, Dict[str, str]], None]


class StepLauncher(abc.ABC):
    """Starts, watches and stops prepared steps; the local engine keeps everything else.

    The engine calls ``open`` once per run and ``close`` at its end. For each attempt
    it calls :meth:`run`, whose default implementation drives the four blocking
    methods below from worker threads: ``launch``, then ``poll`` every
    ``poll_interval`` seconds until it returns an exit code, ``cancel`` on a timeout or
    when the run is terminated, and ``collect`` at the end (also after a failure).
    A launcher may override :meth:`run` to wait for events instead of polling.

    Exit codes follow the runtime contract: 0 success, 3 transient error (retried),
    any other value a failure; a negative value ``-N`` says the step was ended by
    signal ``N``.
    """

    #: seconds between two ``poll`` calls
    poll_interval: float = 1.0

    def open(self, run_dir: str) -> None:
        """Called once before the first step of a run (``run_dir`` is the workflow's directory)."""
        return None

    def close(self) -> None:
        """Called once when the run ends; nothing launched is still running then."""
        return None

    @abc.abstractmethod
    def launch(self, step: PreparedStep) -> LaunchHandle:
        """Start ``step`` and return its handle (plain JSON); may block while it submits."""

    @abc.abstractmethod
    def poll(self, step: PreparedStep, handle: LaunchHandle) -> Optional[int]:
        """The step's exit code once it has ended, else None; keeps ``step.log_path`` current."""

    @abc.abstractmethod
    def cancel(self, handle: LaunchHandle) -> None:
        """Stop the launched step and everything it started; must work from a new launcher
        made with the same options (another process) and on a step that already ended."""

    def collect(self, step: PreparedStep, handle: LaunchHandle) -> None:
        """After the step ended: bring its ``outputs/`` and ``log.txt`` into ``step.root``.

        A launcher that ran the step in place has nothing to do.
        """
        return None

    def describe(self, handle: LaunchHandle) -> Dict[str, str]:
        """What ``dflow get`` shows while the step runs: ``{"job": ..., "state": ..., "where": ...}``."""
        return {}

    async def run(self, step: PreparedStep, report: Optional[Report] = None) -> Tuple[int, bool]:
        """Run one attempt to its end; return ``(exit code, timed out)``.

        A cancelled task (the run is terminated) cancels the launched step first.
        """
        import asyncio  # (here: a process that only submits a run need not import it)

        handle = await asyncio.to_thread(self.launch, step)
        status = self.describe(handle)
        if report is not None:
            report(handle, status)
        deadline = None if step.timeout is None else time.monotonic() + float(step.timeout)
        timed_out = False
        try:
            while True:
                code = await asyncio.to_thread(self.poll, step, handle)
                if code is not None:
                    break
                now = self.describe(handle)
                if report is not None and now != status:
                    status = now
                    report(handle, status)
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    await asyncio.to_thread(self.cancel, handle)
                    code = await asyncio.to_thread(self._wait_after_cancel, step, handle)
                    break
                await asyncio.sleep(self.poll_interval if deadline is None
                                    else max(0.0, min(self.poll_interval, deadline - time.monotonic())))
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(self.cancel, handle))
            raise
        finally:
            try:
                await asyncio.shield(asyncio.to_thread(self.collect, step, handle))
            except asyncio.CancelledError:  # pragma: no cover - collect is shielded
                pass
        return code, timed_out

    def _wait_after_cancel(self, step: PreparedStep, handle: LaunchHandle, grace: float = 30.0) -> int:
        """The exit code of a step just cancelled (-9 when it does not report one within ``grace``)."""
        end = time.monotonic() + grace
        while time.monotonic() < end:
            code = self.poll(step, handle)
            if code is not None:
                return code
            time.sleep(min(self.poll_interval, 0.5))
        return -9
