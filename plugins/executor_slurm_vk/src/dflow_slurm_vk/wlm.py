"""The wlm-operator's ``SlurmJob`` object: a batch script for a Slurm partition that Kubernetes sees as a node."""

from __future__ import annotations

import shlex
from typing import Any, Dict, List, Optional

__all__ = ["slurm_job_manifest", "API_VERSION", "KIND"]

API_VERSION = "wlm.sylabs.io/v1alpha1"
KIND = "SlurmJob"


def slurm_job_manifest(header: str, script: str, command: List[str], workdir: str,
                       node_selector: Optional[Dict[str, str]] = None, prepare: Optional[Dict[str, Any]] = None,
                       results: Optional[Dict[str, Any]] = None, name: str = "{{pod.name}}") -> Dict[str, Any]:
    """A ``SlurmJob`` whose batch script runs ``script`` with ``command`` in ``workdir``.

    The script is written next to the job by a quoted here-document, so nothing in it
    is expanded by the batch shell.
    """
    head = (header or "").strip("\n")
    if not head.startswith("#!"):
        head = "#!/bin/sh\n" + head
    marker = "DFLOW_SCRIPT_END"
    while marker in script:
        marker += "_"
    q = shlex.quote(workdir)
    batch = (f"{head}\nmkdir -p {q} && cd {q} || exit 1\n"
             f"cat > script <<'{marker}'\n{script}\n{marker}\n"
             f"{' '.join(shlex.quote(c) for c in command)} script\n")
    spec: Dict[str, Any] = {"batch": batch}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if prepare:
        spec["prepare"] = prepare
    if results:
        spec["results"] = results
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}
