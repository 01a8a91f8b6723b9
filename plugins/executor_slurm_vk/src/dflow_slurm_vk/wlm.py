"""The wlm-operator's ``SlurmJob`` object: a batch script for a Slurm partition that Kubernetes sees as a node."""

from __future__ import annotations

import shlex
from typing import Any, Dict, List, Optional

__all__ = ["slurm_job_manifest", "script_body", "API_VERSION", "KIND"]

API_VERSION = "wlm.sylabs.io/v1alpha1"
KIND = "SlurmJob"


def script_body(script: str, command: List[str]) -> str:
    """Batch lines that write ``script`` next to the job (a quoted here-document: nothing in it is expanded) and run it."""
    marker = "DFLOW_SCRIPT_END"
    while marker in script:
        marker += "_"
    return f"cat > script <<'{marker}'\n{script}\n{marker}\n{' '.join(shlex.quote(c) for c in command)} script\n"


def slurm_job_manifest(header: str, body: str, workdir: str, node_selector: Optional[Dict[str, str]] = None,
                       prepare: Optional[Dict[str, Any]] = None, results: Optional[Dict[str, Any]] = None,
                       name: str = "{{pod.name}}") -> Dict[str, Any]:
    """A ``SlurmJob`` whose batch script is ``header``, then ``body`` run in ``workdir`` (made if missing)."""
    head = (header or "").strip("\n")
    if not head.startswith("#!"):
        head = "#!/bin/sh\n" + head
    q = shlex.quote(workdir)
    spec: Dict[str, Any] = {"batch": f"{head}\nmkdir -p {q} && cd {q} || exit 1\n{body.rstrip()}\n"}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if prepare:
        spec["prepare"] = prepare
    if results:
        spec["results"] = results
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}
