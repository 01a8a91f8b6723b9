"""What the submitting pod of ``SlurmRemoteExecutor`` runs on Argo (see :mod:`.render`)."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Optional

from dflow.pod_launch import decode, payload_step, pod_path, python_op_step, return_outputs, run_step

from .render import KEY_FILE, PASSWORD_FILE, SECRETS_MOUNT
from .sbatch import SbatchLauncher
from .secrets import keep_named

__all__ = ["main"]


def _mounted_credentials(options: Dict[str, Any]) -> Dict[str, Any]:
    mount = options.get("secrets_mount") or SECRETS_MOUNT
    ssh = options.setdefault("ssh", {})
    if options.get("private_key_secret"):
        ssh["private_key_file"] = os.path.join(mount, KEY_FILE)
    if options.get("password_secret") and isinstance(ssh.get("password"), dict):
        with open(os.path.join(mount, PASSWORD_FILE)) as f:
            keep_named(ssh["password"], f.read().strip("\n"))
    return options


def main(options_text: str, payload_text: Optional[str] = None) -> None:
    """Submit this pod's step with sbatch over SSH, wait for it, put its outputs back; exit with its code."""
    options = _mounted_credentials(decode(options_text))
    root = pod_path("/tmp/dflow-slurm/step")
    workflow = os.environ.get("DFLOW_WORKFLOW", "")
    if payload_text is None:
        step, outputs = python_op_step(root), None
    else:
        payload = decode(payload_text)
        step, outputs = payload_step(root, payload, workflow_id=workflow), payload["outputs"]
    step.workflow_id = step.workflow_id or workflow
    code = run_step(SbatchLauncher(options), step)
    return_outputs(step, outputs)
    sys.stdout.flush()
    sys.exit(code)
