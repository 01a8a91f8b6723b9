"""What the submitting pod of the dispatcher executor runs on Argo (see :mod:`.render`)."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Optional

from dflow.pod_launch import decode, payload_step, pod_path, python_op_step, return_outputs, run_step

from .launcher import DispatcherLauncher
from .render import KEY_FILE, PASSWORD_FILE
from .secrets import keep_secret

__all__ = ["main"]


def _mounted_credentials(options: Dict[str, Any]) -> Dict[str, Any]:
    """The options with the key and password of the mounted Kubernetes secrets."""
    mount = options.get("secrets_mount") or "/etc/dflow-dispatcher"
    profile = options.setdefault("machine", {}).setdefault("remote_profile", {})
    if options.get("private_key_secret"):
        profile["key_filename"] = os.path.join(mount, KEY_FILE)
    ref = profile.get("password")
    if options.get("password_secret") and isinstance(ref, dict) and "$secret" in ref:
        with open(os.path.join(mount, PASSWORD_FILE)) as f:
            keep_secret(str(ref["$secret"]), f.read().strip("\n"))
    return options


def main(options_text: str, payload_text: Optional[str] = None) -> None:
    """Submit this pod's step, wait for it, put its outputs back; exit with its exit code."""
    options = _mounted_credentials(decode(options_text))
    root = pod_path("/tmp/dflow-dispatcher/step")
    if payload_text is None:
        step = python_op_step(root)
        outputs = None
    else:
        payload = decode(payload_text)
        step = payload_step(root, payload)
        outputs = payload["outputs"]
    step.workflow_id = step.workflow_id or os.environ.get("DFLOW_WORKFLOW", "")
    code = run_step(DispatcherLauncher(options), step)
    return_outputs(step, outputs)
    sys.stdout.flush()
    sys.exit(code)
