"""Argo renders of the Slurm executors.

* ``SlurmRemoteExecutor``: the step becomes a pod that logs in to the login host over SSH
  and submits it with ``sbatch`` (the same launcher as the local backend, run in the pod
  by :mod:`dflow.pod_launch`). The SSH key and password come from Kubernetes secrets
  mounted in the pod (``private_key_secret``, ``password_secret``), never from the
  manifest; the pod's image needs Python 3.8+ with this plugin installed.
* ``SlurmJobTemplate``: the wlm-operator's virtual-node pattern (:mod:`.wlm_render`).
"""

from __future__ import annotations

import copy
from typing import Any, Dict

from dflow.errors import ValidationError
from dflow.pod_launch import submitting_pod
from dflow.spec import ScriptTemplateSpec

from .wlm_render import render_wlm

__all__ = ["render_remote", "render_wlm", "DEFAULT_IMAGE", "KEY_FILE", "PASSWORD_FILE", "SECRETS_MOUNT"]

#: the submitting pod's image: Python 3.8+ with dflow-slurm-vk installed
DEFAULT_IMAGE = "python:3.8"
SECRETS_MOUNT = "/etc/dflow-slurm"
KEY_FILE = "ssh-key/ssh-privatekey"
PASSWORD_FILE = "ssh-password/password"

def render_remote(template: ScriptTemplateSpec, options: Dict[str, Any]) -> ScriptTemplateSpec:
    """The pod that submits ``template``'s step with ``sbatch`` over SSH."""
    where = f"template {template.name!r}"
    ssh = options.get("ssh") or {}
    mount = options.get("secrets_mount") or SECRETS_MOUNT
    if ssh.get("password") and not options.get("password_secret"):
        raise ValidationError(f"{where}: the SSH password of a SlurmRemoteExecutor cannot go into an Argo manifest; "
                              "create a Kubernetes secret holding it under the key 'password' and give "
                              "SlurmRemoteExecutor(password_secret=NAME)")
    if ssh.get("private_key_file") and not options.get("private_key_secret"):
        raise ValidationError(f"{where}: the SSH key of a SlurmRemoteExecutor cannot go into an Argo manifest; create "
                              "a Kubernetes secret holding it under the key 'ssh-privatekey' and give "
                              "SlurmRemoteExecutor(private_key_secret=NAME)")
    k8s = copy.deepcopy(template.k8s)
    volumes, mounts = list(k8s.get("volumes") or []), list(k8s.get("mounts") or [])
    for name, secret, sub in (("dflow-ssh-key", options.get("private_key_secret"), "ssh-key"),
                              ("dflow-ssh-password", options.get("password_secret"), "ssh-password")):
        if secret:
            volumes.append({"name": name, "secret": {"secretName": secret, "defaultMode": 0o400}})
            mounts.append({"name": name, "mountPath": f"{mount}/{sub}", "readOnly": True})
    if volumes:
        k8s["volumes"], k8s["mounts"] = volumes, mounts
    if options.get("image_pull_policy"):
        k8s["image_pull_policy"] = options["image_pull_policy"]
    pod_options = {k: v for k, v in options.items() if k not in ("image", "image_pull_policy", "command")}
    return submitting_pod(template, "dflow_slurm_vk.pod.main", pod_options, options.get("image") or DEFAULT_IMAGE,
                          list(options.get("command") or ["python3"]), k8s)
