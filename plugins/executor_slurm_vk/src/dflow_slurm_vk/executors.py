"""The user-facing Slurm classes of the original dflow (user guide 3.1.16): ``SlurmJobTemplate``,
``SlurmRemoteExecutor``, their SSH base ``RemoteExecutor`` and the ``SlurmJob`` resource.

``SlurmJobTemplate`` (executor ``slurm``) hands a step to a Slurm partition: on Argo as
a wlm-operator ``SlurmJob`` on a virtual node (:mod:`.wlm`), on the local backend by
``sbatch`` on this machine (:mod:`.sbatch`). ``SlurmRemoteExecutor`` (executor
``slurm_remote``) logs in to a login host over SSH and submits with ``sbatch``, on both
backends, with no helper binary. Options are recorded in the WorkflowSpec; an SSH
password is recorded by reference only (:mod:`.secrets`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Union

from dflow.errors import ValidationError
from dflow.executor import Executor, Resource

from .secrets import keep_password

__all__ = ["SlurmJobTemplate", "SlurmRemoteExecutor", "RemoteExecutor", "SlurmJob", "DEFAULT_UTIL_IMAGE"]

DEFAULT_UTIL_IMAGE = "python:3.8"


def _as_list(command: Union[None, str, List[str]]) -> Optional[List[str]]:
    if command is None:
        return None
    return [command] if isinstance(command, str) else [str(c) for c in command]


def _header(header: str) -> str:
    """The batch header with indentation before ``#`` removed (a header written in an indented string)."""
    return re.sub(r"(?m)^[ \t]+#", "#", header or "")


def _containers(docker: Optional[str], singularity: Optional[str], podman: Optional[str]) -> None:
    if docker or singularity or podman:
        raise ValidationError(
            "running the step in a container on the Slurm side (docker_executable, singularity_executable, "
            "podman_executable) is not supported by dflow-slurm-vk: put the container command in remote_command, "
            "e.g. remote_command=['singularity', 'exec', 'image.sif', 'python3']")


class SlurmJobTemplate(Executor):
    """Runs a step as a Slurm job on a virtual node of the wlm-operator (Argo), or by ``sbatch`` here (local).

    Args:
        header: the batch script's header (``#!/bin/sh`` and ``#SBATCH`` lines).
        node_selector: the virtual node (the Slurm partition) on Kubernetes.
        prepare_image, collect_image (and their pull policies): the pods that stage the
            step's inputs onto the node and collect its results (Argo).
        workdir: the job's directory on the Slurm side, relative to the Slurm user's home
            (``{{workflow.name}}`` and ``{{pod.name}}`` are filled in).
        remote_command: what runs the step's script on the Slurm side (default: its command).
    """

    name = "slurm"

    def __init__(
        self,
        header: str = "",
        node_selector: Optional[Dict[str, str]] = None,
        prepare_image: Optional[str] = None,
        prepare_image_pull_policy: Optional[str] = None,
        collect_image: Optional[str] = None,
        collect_image_pull_policy: Optional[str] = None,
        workdir: str = "dflow/workflows/{{workflow.name}}/{{pod.name}}",
        remote_command: Union[None, str, List[str]] = None,
        docker_executable: Optional[str] = None,
        singularity_executable: Optional[str] = None,
        podman_executable: Optional[str] = None,
    ) -> None:
        _containers(docker_executable, singularity_executable, podman_executable)
        if node_selector is not None and not (isinstance(node_selector, dict)
                                              and all(isinstance(v, str) for v in node_selector.values())):
            raise ValidationError(f"SlurmJobTemplate: node_selector must map label names to strings, got {node_selector!r}")
        self.header = _header(header)
        self.node_selector = dict(node_selector) if node_selector else None
        self.prepare_image = prepare_image or DEFAULT_UTIL_IMAGE
        self.prepare_image_pull_policy = prepare_image_pull_policy
        self.collect_image = collect_image or DEFAULT_UTIL_IMAGE
        self.collect_image_pull_policy = collect_image_pull_policy
        self.workdir = workdir
        self.remote_command = _as_list(remote_command)

    def spec_options(self) -> Dict[str, Any]:
        return {"header": self.header, "node_selector": self.node_selector, "prepare_image": self.prepare_image,
                "prepare_image_pull_policy": self.prepare_image_pull_policy, "collect_image": self.collect_image,
                "collect_image_pull_policy": self.collect_image_pull_policy, "workdir": self.workdir,
                "remote_command": self.remote_command}


class RemoteExecutor(Executor):
    """The SSH login of an executor that runs steps on another host (the base of ``SlurmRemoteExecutor``).

    On its own it has no way to start a job; use :class:`SlurmRemoteExecutor`, or
    ``DispatcherExecutor`` with ``machine_dict={"batch_type": "Shell"}`` for a host without
    a scheduler.
    """

    def __init__(
        self,
        host: str,
        port: int = 22,
        username: str = "root",
        password: Optional[str] = None,
        private_key_file: Optional[os.PathLike] = None,
        workdir: str = "~/dflow/workflows/{{workflow.name}}/{{pod.name}}",
        command: Union[None, str, List[str]] = None,
        remote_command: Union[None, str, List[str]] = None,
        image: Optional[str] = None,
        image_pull_policy: Optional[str] = None,
        map_tmp_dir: bool = True,
        docker_executable: Optional[str] = None,
        singularity_executable: Optional[str] = None,
        podman_executable: Optional[str] = None,
        action_retries: int = -1,
        private_key_secret: Optional[str] = None,
        password_secret: Optional[str] = None,
        clean: bool = True,
        secrets_mount: str = "/etc/dflow-slurm",
    ) -> None:
        if type(self) is RemoteExecutor:
            raise ValidationError("RemoteExecutor cannot start jobs on its own: use SlurmRemoteExecutor(host=..., "
                                  "header=...), or DispatcherExecutor(..., machine_dict={'batch_type': 'Shell'})")
        if not host:
            raise ValidationError(f"{type(self).__name__}: host is required (the login host of the cluster)")
        _containers(docker_executable, singularity_executable, podman_executable)
        if not (workdir.startswith("/") or workdir.startswith("~")):
            raise ValidationError(f"{type(self).__name__}: workdir must be absolute or start with ~, got {workdir!r}")
        self.host = host
        self.port = int(port)
        self.username = username
        self.private_key_file = os.path.abspath(os.path.expanduser(os.fspath(private_key_file))) \
            if private_key_file is not None else None
        self.workdir = workdir
        self.command = _as_list(command) or ["python3"]
        self.remote_command = _as_list(remote_command)
        self.image = image
        self.image_pull_policy = image_pull_policy
        self.map_tmp_dir = bool(map_tmp_dir)
        # -1 (the original's "forever") becomes a bounded number of reconnections
        self.action_retries = 5 if action_retries is None or action_retries < 0 else max(1, int(action_retries))
        self.private_key_secret = private_key_secret
        self.password_secret = password_secret
        self.clean = bool(clean)
        self.secrets_mount = secrets_mount
        self._password = keep_password(f"{username}@{host}:{self.port}", password) if password is not None else None

    def spec_options(self) -> Dict[str, Any]:
        ssh: Dict[str, Any] = {"host": self.host, "port": self.port, "username": self.username,
                               "private_key_file": self.private_key_file, "action_retries": self.action_retries}
        if self._password is not None:
            ssh["password"] = dict(self._password)
        return {"ssh": ssh, "workdir": self.workdir, "remote_command": self.remote_command, "image": self.image,
                "image_pull_policy": self.image_pull_policy, "command": self.command, "clean": self.clean,
                "private_key_secret": self.private_key_secret, "password_secret": self.password_secret,
                "secrets_mount": self.secrets_mount}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.username}@{self.host}:{self.port}, workdir={self.workdir!r})"


class SlurmRemoteExecutor(RemoteExecutor):
    """Runs a step as a Slurm job submitted with ``sbatch`` on a login host over SSH.

    Args (besides :class:`RemoteExecutor`'s): ``header``, the batch script's header;
    ``interval``, seconds between two looks at the queue; ``pvc`` is accepted for
    compatibility and not used (results come back over SSH).
    """

    name = "slurm_remote"

    def __init__(self, host: str, *args: Any, header: str = "", interval: int = 3, pvc: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(host, *args, **kwargs)
        self.header = _header(header)
        self.interval = interval

    def spec_options(self) -> Dict[str, Any]:
        return {**super().spec_options(), "header": self.header, "interval": self.interval}


class SlurmJob(Resource):
    """The wlm-operator's ``SlurmJob`` custom resource for a template (``Step(template=..., ...)`` with a resource).

    :meth:`get_manifest` gives the object; Kubernetes backends apply it and wait for its
    status. ``SlurmJobTemplate`` builds these for you.
    """

    def __init__(self, header: str = "", node_selector: Optional[Dict[str, str]] = None,
                 prepare: Optional[Dict[str, Any]] = None, results: Optional[Dict[str, Any]] = None,
                 map_tmp_dir: bool = True, workdir: str = ".", remote_command: Union[None, str, List[str]] = None,
                 docker_executable: Optional[str] = None, singularity_executable: Optional[str] = None,
                 podman_executable: Optional[str] = None) -> None:
        _containers(docker_executable, singularity_executable, podman_executable)
        self.header = _header(header)
        self.node_selector = node_selector
        self.prepare = prepare
        self.results = results
        self.map_tmp_dir = map_tmp_dir
        self.workdir = workdir
        self.remote_command = _as_list(remote_command)
        self.action = "create"
        self.success_condition = "status.status == Succeeded"
        self.failure_condition = "status.status == Failed"

    def get_manifest(self, template: Any) -> Dict[str, Any]:
        from .wlm import script_body, slurm_job_manifest

        command = self.remote_command or list(getattr(template, "command", None) or ["sh"])
        script = getattr(template, "script", "") or ""
        if self.map_tmp_dir:
            script = script.replace("/tmp/", "tmp/")
        return slurm_job_manifest(self.header, script_body(script, command), self.workdir, self.node_selector,
                                  self.prepare, self.results)
