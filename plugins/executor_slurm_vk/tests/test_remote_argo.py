"""SlurmRemoteExecutor on Argo: a pod that logs in over SSH and submits the step with sbatch.

The manifest is checked against Argo's strict schema and holds no credential. The pod
runs in the Argo backend's test sandbox (a stand-in for Argo, no Kubernetes here) and
really submits to the real Slurm over SSH with the key of the Kubernetes secret, which
the test puts where the secret is mounted.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from dflow import SlurmRemoteExecutor, Step, Workflow, s3_config
from dflow.errors import ValidationError
from dflow.python import PythonOPTemplate
from dflow.testing.argo_schema import schema_errors

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "argo_backend" / "tests"))
from argo_sandbox import Sandbox  # noqa: E402
from sandbox_repo import SandboxRepository  # noqa: E402

OPS = HERE.parents[1] / "executor_dispatcher" / "tests" / "hpc_ops"
sys.path.insert(0, str(OPS.parent))
import hpc_ops  # noqa: E402


@pytest.fixture
def repo(local_run: Path) -> Path:
    store = local_run / "store"
    store.mkdir()
    s3_config["storage_client"] = SandboxRepository(root=str(store))
    return store


def _render(wf: Workflow) -> Any:
    from dflow_argo import ArgoBackend

    backend = ArgoBackend()
    comp = backend.compiler(wf.compile())
    return backend, comp, comp.render()


def _executor(slurm: Dict[str, Any], remote: str, mount: str) -> SlurmRemoteExecutor:
    return SlurmRemoteExecutor(slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                               private_key_file=slurm["ssh_key"], private_key_secret="hpc-key", secrets_mount=mount,
                               workdir=remote + "/{{pod.name}}", header=f"#!/bin/sh\n#SBATCH -p {slurm['partition']}",
                               # the image's python3 (with this plugin): here, the tests' interpreter
                               command=sys.executable)


def test_the_pod_submits_over_ssh_with_the_mounted_key(slurm, remote, repo, tmp_path):
    mount = tmp_path / "secrets"
    (mount / "ssh-key").mkdir(parents=True)
    shutil.copy(slurm["ssh_key"], mount / "ssh-key" / "ssh-privatekey")
    wf = Workflow("argo-remote")
    wf.add(Step("sq", PythonOPTemplate(hpc_ops.square, python_packages=[str(OPS)]), parameters={"x": 12},
                executor=_executor(slurm, remote, str(mount))))
    backend, comp, manifest = _render(wf)
    assert schema_errors(manifest) == []
    assert Path(slurm["ssh_key"]).read_text().strip().splitlines()[1] not in json.dumps(manifest)
    [t] = [t for t in manifest["spec"]["templates"] if t["name"].startswith("square")]
    assert {v["secret"]["secretName"] for v in t["volumes"]} == {"hpc-key"}
    backend.upload(list(comp.uploads.values()))
    sb = Sandbox(manifest, str(repo), str(tmp_path / "pods"))
    assert sb.run() == "Succeeded", [(n.display, n.phase, n.message) for n in sb.nodes]
    node = next(n for n in sb.nodes if n.display == "sq")
    assert node.parameters["y"] == "144" and node.parameters["job"].isdigit()


def test_a_password_without_a_secret_is_refused_at_render(repo):
    wf = Workflow("no-secret")
    wf.add(Step("sq", PythonOPTemplate(hpc_ops.square, python_packages=[str(OPS)]), parameters={"x": 1},
                executor=SlurmRemoteExecutor("login.example.org", password="pw")))
    with pytest.raises(ValidationError, match="password_secret"):
        _render(wf)
