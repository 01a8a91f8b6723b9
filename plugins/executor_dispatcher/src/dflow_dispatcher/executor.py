"""``DispatcherExecutor``: run a step as an HPC job through dpdispatcher (user guide 3.1.15).

The constructor is the original dflow's. What it builds is dpdispatcher's own
configuration (a machine, resources and a task dict, merged with ``json_file``,
``machine_dict``, ``resources_dict`` and ``task_dict`` as dpdispatcher documents them),
recorded in the WorkflowSpec without credentials (see :mod:`.secrets`). The local
engine launches the step through :class:`~dflow_dispatcher.launcher.DispatcherLauncher`;
the Argo backend runs a pod made by :func:`~dflow_dispatcher.render.render_for_argo`.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict, List, Optional, Union

from dflow.errors import ValidationError
from dflow.executor import Executor

from .dplog import load_dpdispatcher
from .secrets import hide_secrets

__all__ = ["DispatcherExecutor", "merge_dicts"]
_SSH_CONTEXTS = {"ssh", "sshcontext"}


def merge_dicts(base: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    """``base`` updated by ``extra`` in place, nested dicts merged key by key (dpdispatcher's layering)."""
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge_dicts(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _as_list(command: Union[None, str, List[str]]) -> Optional[List[str]]:
    if command is None:
        return None
    return [command] if isinstance(command, str) else [str(c) for c in command]


class DispatcherExecutor(Executor):
    """Submits each step to an HPC scheduler through dpdispatcher.

    The step's inputs go to ``remote_root`` on the cluster (over SSH, or on this
    machine with a local context), the job is submitted, watched and, once it ended,
    its outputs and log come back into the step's directory. A Python OP runs there
    through dflow's step runtime on the cluster's ``python3`` (3.8 or later).

    Args:
        host, port, username: the SSH login (``machine_dict["remote_profile"]``).
        password: SSH password; kept out of the workflow spec (see ``dflow_dispatcher.secrets``).
        private_key_file: SSH private key file on this machine.
        queue_name: the scheduler queue (``resources_dict["queue_name"]``).
        image, image_pull_policy, command: the pod that submits the job on Argo.
        remote_command: what runs the step's script on the cluster (default: the
            template's command; for a Python OP the cluster's ``python3``).
        map_tmp_dir: ``/tmp/...`` paths of a script live in the job's directory.
        machine_dict, resources_dict, task_dict: dpdispatcher settings merged over the
            defaults (``batch_type`` Slurm, ``context_type`` SSHContext, one node and
            one CPU per job).
        json_file: a JSON file with ``machine`` and ``resources`` sections, merged first.
        docker_executable, singularity_executable, podman_executable, container_args:
            run the script in the template's image on the cluster (Argo only).
        remote_root: where the jobs' directories go (default ``~/dflow/workflows``).
        retry_on_submission_error: attempts to submit when the scheduler refuses.
        merge_sliced_step: all slices of a sliced step go in one job.
        pre_script, post_script: Python lines run before submitting and after the job.
        clean: remove the job's remote directory afterwards (``False`` keeps it; the
            step record says where).
        envs: environment variables of the step on the cluster.
        private_key_secret, password_secret: on Argo, the Kubernetes secrets holding
            the SSH key (key ``ssh-privatekey``) and password (key ``password``).
        secrets_mount: where the submitting pod mounts those secrets.
    """

    name = "dispatcher"

    def __init__(
        self,
        host: Optional[str] = None,
        queue_name: Optional[str] = None,
        port: int = 22,
        username: str = "root",
        password: Optional[str] = None,
        private_key_file: Optional[os.PathLike] = None,
        image: Optional[str] = None,
        image_pull_policy: Optional[str] = None,
        command: Union[str, List[str]] = "python3",
        remote_command: Union[None, str, List[str]] = None,
        map_tmp_dir: bool = True,
        machine_dict: Optional[dict] = None,
        resources_dict: Optional[dict] = None,
        task_dict: Optional[dict] = None,
        json_file: Optional[os.PathLike] = None,
        docker_executable: Optional[str] = None,
        singularity_executable: Optional[str] = None,
        container_args: str = "",
        podman_executable: Optional[str] = None,
        remote_root: Optional[str] = None,
        retry_on_submission_error: Optional[int] = None,
        merge_sliced_step: bool = False,
        pre_script: str = "",
        post_script: str = "",
        clean: bool = True,
        remove_scheduling_strategies: bool = True,
        envs: Optional[Dict[str, str]] = None,
        merge_bohrium_job_group: bool = False,
        terminate_grace_period: Optional[int] = None,
        private_key_secret: Optional[str] = None,
        password_secret: Optional[str] = None,
        secrets_mount: str = "/etc/dflow-dispatcher",
    ) -> None:
        self.host = host
        self.queue_name = queue_name
        self.port = int(port)
        self.username = username
        self.private_key_file = os.fspath(private_key_file) if private_key_file is not None else None
        from dflow.settings import config

        # the pod that submits the job on Argo: its image needs Python 3.8+, dpdispatcher and this plugin
        self.image = image or config.get("dispatcher_image")
        self.image_pull_policy = image_pull_policy or config.get("dispatcher_image_pull_policy")
        self.debug = bool(config.get("dispatcher_debug"))
        self.command = _as_list(command) or ["python3"]
        self.remote_command = _as_list(remote_command)
        self.container = {"docker": docker_executable, "singularity": singularity_executable,
                          "podman": podman_executable, "args": container_args}
        self.map_tmp_dir = bool(map_tmp_dir) and not any((docker_executable, singularity_executable, podman_executable))
        self.remote_root = remote_root
        self.retry_on_submission_error = retry_on_submission_error
        self.merge_sliced_step = bool(merge_sliced_step)
        self.pre_script = pre_script or ""
        self.post_script = post_script or ""
        self.clean = bool(clean)
        self.remove_scheduling_strategies = bool(remove_scheduling_strategies)
        self.envs = {str(k): str(v) for k, v in (envs or {}).items()}
        self.merge_bohrium_job_group = bool(merge_bohrium_job_group)
        self.terminate_grace_period = terminate_grace_period
        self.private_key_secret = private_key_secret
        self.password_secret = password_secret
        self.secrets_mount = secrets_mount
        self._has_password = password is not None

        conf: Dict[str, Any] = {}
        if json_file is not None:
            try:
                with open(json_file) as f:
                    conf = json.load(f)
            except (OSError, ValueError) as e:
                raise ValidationError(f"DispatcherExecutor: cannot read json_file {os.fspath(json_file)!r}: {e}") from None
        machine: Dict[str, Any] = {
            "batch_type": "Slurm",
            "context_type": "SSHContext",
            "local_root": ".",
            "remote_root": remote_root or (f"/home/{username}/dflow/workflows" if username != "root"
                                           else "/root/dflow/workflows"),
            "remote_profile": {"hostname": host, "username": username, "port": self.port, "timeout": 10},
        }
        if password is not None:
            machine["remote_profile"]["password"] = password
        if self.private_key_file is not None:
            machine["remote_profile"]["key_filename"] = os.path.abspath(os.path.expanduser(self.private_key_file))
        merge_dicts(machine, conf.get("machine") or {})
        merge_dicts(machine, machine_dict or {})
        resources: Dict[str, Any] = {"number_node": 1, "cpu_per_node": 1, "gpu_per_node": 0, "queue_name": "",
                                     "group_size": 1, "envs": {"PYTHONUNBUFFERED": "true"}}
        if queue_name is not None:
            resources["queue_name"] = queue_name
        merge_dicts(resources, conf.get("resources") or {})
        merge_dicts(resources, resources_dict or {})
        task: Dict[str, Any] = {}
        merge_dicts(task, task_dict or {})
        self._group_size_given = "group_size" in (resources_dict or {}) or "group_size" in (conf.get("resources") or {})
        root = str(machine.get("remote_root") or "")
        if root and not root.startswith("/") and str(machine.get("context_type")).lower() not in _SSH_CONTEXTS:
            # a directory of this machine ("./", as in dflow's local examples): where it is now, for good
            machine["remote_root"] = os.path.abspath(os.path.expanduser(root))
        self._check(machine, resources)
        # credentials never leave this object: the spec gets references (see .secrets)
        scope = f"{machine.get('remote_profile', {}).get('username')}@{machine.get('remote_profile', {}).get('hostname')}"
        self.machine_dict = hide_secrets(machine, f"{scope}:{machine.get('remote_profile', {}).get('port')}")
        self.resources_dict = resources
        self.task_dict = task

    # ------------------------------------------------------------------ checks

    def _check(self, machine: Dict[str, Any], resources: Dict[str, Any]) -> None:
        load_dpdispatcher(self.debug)
        from dpdispatcher import Machine
        from dpdispatcher.base_context import BaseContext

        batch = str(machine.get("batch_type"))
        if batch not in Machine.subclasses_dict:
            raise ValidationError(
                f"DispatcherExecutor: batch_type {batch!r} is not one dpdispatcher knows; use one of "
                f"{sorted(k for k in Machine.subclasses_dict if k[0].isupper())}")
        context = str(machine.get("context_type"))
        if context not in BaseContext.subclasses_dict:
            raise ValidationError(
                f"DispatcherExecutor: context_type {context!r} is not one dpdispatcher knows; use one of "
                f"{sorted(k for k in BaseContext.subclasses_dict if k[0].isupper())}")
        if not str(machine.get("remote_root") or "").startswith("/"):
            raise ValidationError(f"DispatcherExecutor: remote_root on the cluster must be an absolute path, got "
                                  f"{machine.get('remote_root')!r} (a relative one would be read against this "
                                  "machine's directory)")
        for key in ("number_node", "cpu_per_node", "group_size"):
            value = resources.get(key)
            if not isinstance(value, int) or value < (0 if key == "group_size" else 1):
                raise ValidationError(f"DispatcherExecutor: resources {key} must be a positive integer, got {value!r}")
        if self.merge_bohrium_job_group:
            raise ValidationError("DispatcherExecutor: merge_bohrium_job_group needs Bohrium, which this plugin "
                                  "does not support; use merge_sliced_step to put the slices of a step in one job")

    # ------------------------------------------------------------------ the spec

    def _check_host(self) -> None:
        # checked when a workflow uses the executor, not when it is made: code built on dflow
        # makes executors from configuration first and fills in the host later (dpgen2 does)
        machine = self.machine_dict
        if str(machine.get("context_type")).lower() in _SSH_CONTEXTS and \
                not (machine.get("remote_profile") or {}).get("hostname"):
            raise ValidationError("DispatcherExecutor: an SSH context needs the cluster's host: give host=... "
                                  "(or machine_dict={'remote_profile': {'hostname': ...}})")

    def spec_options(self) -> Dict[str, Any]:
        """What the WorkflowSpec records: dpdispatcher's settings with credentials as references."""
        self._check_host()
        return {
            "machine": copy.deepcopy(self.machine_dict),
            "resources": copy.deepcopy(self.resources_dict),
            "task": copy.deepcopy(self.task_dict),
            "group_size_given": self._group_size_given,
            "remote_command": self.remote_command,
            "map_tmp_dir": self.map_tmp_dir,
            "merge_sliced_step": self.merge_sliced_step,
            "clean": self.clean,
            "envs": dict(self.envs),
            "pre_script": self.pre_script,
            "post_script": self.post_script,
            "retry_on_submission_error": self.retry_on_submission_error,
            "terminate_grace_period": self.terminate_grace_period,
            "debug": self.debug,
            "image": self.image,
            "image_pull_policy": self.image_pull_policy,
            "command": list(self.command),
            "remove_scheduling_strategies": self.remove_scheduling_strategies,
            "container": dict(self.container),
            "private_key_secret": self.private_key_secret,
            "password_secret": self.password_secret,
            "secrets_mount": self.secrets_mount,
            "has_password": self._has_password,
        }

    def __repr__(self) -> str:
        m = self.machine_dict
        profile = m.get("remote_profile") or {}
        where = f"{profile.get('username')}@{profile.get('hostname')}:{profile.get('port')}" if profile.get("hostname") \
            else m.get("context_type")
        return (f"DispatcherExecutor({m.get('batch_type')} via {m.get('context_type')} at {where}, "
                f"remote_root={m.get('remote_root')!r}, merge_sliced_step={self.merge_sliced_step})")
