"""The dispatcher executor on Argo: the step becomes a pod that submits it through dpdispatcher.

The pod runs the image of the executor (``image``: Python 3.8+ with this plugin and
dpdispatcher installed). It takes the step from the container contract (a Python OP's
task, or a script with its declared paths), runs it with the same launcher as the local
backend (:mod:`dflow.pod_launch`), and puts the outputs where Argo reads them. Its
options are in the script as encoded JSON without credentials: the SSH key and password
come from Kubernetes secrets mounted in the pod (``private_key_secret``,
``password_secret``), never from the manifest.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List

from dflow.errors import ValidationError
from dflow.pod_launch import submitting_pod
from dflow.spec import ScriptTemplateSpec

__all__ = ["render_for_argo", "KEY_FILE", "PASSWORD_FILE"]

#: below ``secrets_mount``: the mounted key and password (the keys of the Kubernetes secrets)
KEY_FILE = "ssh-key/ssh-privatekey"
PASSWORD_FILE = "ssh-password/password"

def _secret_volumes(options: Dict[str, Any], where: str) -> List[Dict[str, Any]]:
    """``(volumes, mounts)`` entries of the two secrets, and the checks that keep credentials out of the manifest."""
    profile = (options.get("machine") or {}).get("remote_profile") or {}
    mount = options.get("secrets_mount") or "/etc/dflow-dispatcher"
    out = []
    if options.get("has_password") and not options.get("password_secret"):
        raise ValidationError(
            f"{where}: the SSH password of a DispatcherExecutor cannot go into an Argo manifest; create a Kubernetes "
            "secret holding it under the key 'password' and give DispatcherExecutor(password_secret=NAME)")
    if profile.get("key_filename") and not options.get("private_key_secret"):
        raise ValidationError(
            f"{where}: the SSH key of a DispatcherExecutor cannot go into an Argo manifest; create a Kubernetes "
            "secret holding it under the key 'ssh-privatekey' (kubectl create secret generic NAME "
            "--from-file=ssh-privatekey=KEYFILE) and give DispatcherExecutor(private_key_secret=NAME)")
    if options.get("private_key_secret"):
        out.append(("dflow-ssh-key", options["private_key_secret"], f"{mount}/ssh-key", 0o400))
    if options.get("password_secret"):
        out.append(("dflow-ssh-password", options["password_secret"], f"{mount}/ssh-password", 0o400))
    return out


def render_for_argo(template: ScriptTemplateSpec, options: Dict[str, Any]) -> ScriptTemplateSpec:
    """The pod that submits ``template``'s step (see the module docstring)."""
    where = f"template {template.name!r}"
    k8s = copy.deepcopy(template.k8s)
    volumes = list(k8s.get("volumes") or [])
    mounts = list(k8s.get("mounts") or [])
    for name, secret, path, mode in _secret_volumes(options, where):
        volumes.append({"name": name, "secret": {"secretName": secret, "defaultMode": mode}})
        mounts.append({"name": name, "mountPath": path, "readOnly": True})
    if volumes:
        k8s["volumes"], k8s["mounts"] = volumes, mounts
    if options.get("remove_scheduling_strategies", True):
        for key in ("node_selector", "tolerations", "affinity"):
            k8s.pop(key, None)
    if options.get("image_pull_policy"):
        k8s["image_pull_policy"] = options["image_pull_policy"]
    pod_options = {k: v for k, v in options.items() if k not in ("image", "image_pull_policy", "command")}
    return submitting_pod(template, "dflow_dispatcher.pod.main", pod_options, options.get("image"),
                          list(options.get("command") or ["python3"]), k8s, options.get("envs"))
