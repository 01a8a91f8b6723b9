"""A third-party plugin written the way a plugin author would, using only core's public names.

It adds the three kinds of things the kernel's seams exist for:

* an executor ``remote-sim`` with its own step launcher, which runs each step in a copy
  of its directory elsewhere on this machine (as a launcher for an SSH host or a batch
  scheduler would: copy, relocate, run, poll, cancel, copy outputs back), and a render
  for container backends;
* a storage client ``mirror`` whose artifacts appear to a cluster as ``gcs`` locations;
* a ``dflow seam-count`` command.

Register it with ``dflow.plugins.register_plugin(seam_plugin)``; it ships with nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
from typing import Any, Dict, Optional

from dflow.executor import Executor
from dflow.launcher import RUNTIME_DIR, LaunchHandle, PreparedStep, StepLauncher, runtime_package_dir
from dflow.plugins import hookimpl
from dflow.spec import ScriptTemplateSpec
from dflow.storage import ArtifactLocation, LocalStorageClient
from dflow.workflow import query_workflows

MARK = "DFLOW_SEAM_EXECUTOR"


class RemoteSimExecutor(Executor):
    """Runs steps "elsewhere": in ``remote_root`` on this machine, through the plugin's launcher."""

    name = "remote-sim"

    def __init__(self, remote_root: str, tag: str = "sim") -> None:
        self.remote_root = remote_root
        self.tag = tag

    def spec_options(self) -> Dict[str, Any]:
        return {"remote_root": self.remote_root, "tag": self.tag}


class RemoteSimLauncher(StepLauncher):
    """Copies a prepared step to ``remote_root``, runs it there in its own session, copies outputs back."""

    poll_interval = 0.05
    slots = 16

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        self.options = dict(options or {})

    def _remote(self, step: PreparedStep) -> str:
        return os.path.join(self.options["remote_root"], f"{step.workflow_id}-{step.node_id}-{step.attempt}")

    def launch(self, step: PreparedStep) -> LaunchHandle:
        remote = self._remote(step)
        shutil.copytree(step.root, remote, symlinks=False, dirs_exist_ok=True)
        moved, files = step.relocate(remote)
        for rel, text in files.items():
            with open(os.path.join(remote, rel), "w") as f:
                f.write(text)
        if moved.task is not None:  # ship core's runtime, as a remote host needs it
            os.makedirs(os.path.join(remote, RUNTIME_DIR), exist_ok=True)
            target = os.path.join(remote, RUNTIME_DIR, "dflow")
            if not os.path.exists(target):
                os.symlink(runtime_package_dir(), target)
        env = {**os.environ, **moved.env, MARK: "launcher:" + str(self.options.get("tag"))}
        with open(moved.log_path, "ab") as log:
            proc = subprocess.Popen(moved.command, cwd=moved.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        with open(os.path.join(remote, "pid"), "w") as f:
            f.write(str(proc.pid))
        return {"pid": proc.pid, "remote": remote}

    def poll(self, step: PreparedStep, handle: LaunchHandle) -> Optional[int]:
        try:
            pid, status = os.waitpid(int(handle["pid"]), os.WNOHANG)
        except ChildProcessError:  # not our child: another process launched it
            return None if _alive(int(handle["pid"])) else -signal.SIGKILL
        if pid == 0:
            self._copy_log(step, handle)
            return None
        self._copy_log(step, handle)
        return os.waitstatus_to_exitcode(status)

    def _copy_log(self, step: PreparedStep, handle: LaunchHandle) -> None:
        src = os.path.join(handle["remote"], "log.txt")
        if os.path.exists(src):
            shutil.copyfile(src, step.log_path)

    def cancel(self, handle: LaunchHandle) -> None:
        try:
            os.killpg(int(handle["pid"]), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def collect(self, step: PreparedStep, handle: LaunchHandle) -> None:
        out = os.path.join(handle["remote"], "outputs")
        if os.path.isdir(out):
            shutil.copytree(out, os.path.join(step.root, "outputs"), dirs_exist_ok=True)
        self._copy_log(step, handle)

    def describe(self, handle: LaunchHandle) -> Dict[str, str]:
        return {"job": str(handle["pid"]), "state": "running" if _alive(int(handle["pid"])) else "ended",
                "where": handle["remote"]}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def render_for_containers(template: ScriptTemplateSpec, options: Dict[str, Any]) -> ScriptTemplateSpec:
    """On Argo the step runs in its pod, marked so the OP can tell."""
    return template.model_copy(update={"env": {**template.env, MARK: "render:" + str(options.get("tag"))}})


class MirrorStore(LocalStorageClient):
    """Artifacts in a local folder that a cluster knows as a GCS bucket."""

    def artifact_location(self, key: str) -> ArtifactLocation:
        return ArtifactLocation("gcs", {"bucket": "seam-bucket", "key": key})


def _mirror(**options: Any) -> MirrorStore:
    return MirrorStore(root=options.get("mirror_root") or options.get("root"))


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def _run(args: argparse.Namespace) -> int:
    rows = query_workflows()
    print(json.dumps({"workflows": len(rows)}) if args.json else f"{len(rows)} workflows")
    return 0


@hookimpl
def register_executors(register: Any) -> None:
    register("remote-sim", RemoteSimExecutor, launcher=RemoteSimLauncher, render=render_for_containers)


@hookimpl
def register_storage_clients(register: Any) -> None:
    register("mirror", _mirror)


@hookimpl
def register_commands(register: Any) -> None:
    register("seam-count", _configure, _run, help="how many workflows the backend knows (a plugin's command)")
