"""DispatcherExecutor on the Argo backend: the step becomes a pod that submits it through dpdispatcher.

The manifests are checked against Argo's strict schema. No Kubernetes can run here, so
the pods run in the Argo backend's test sandbox (``argo_sandbox.py``, a stand-in for
Argo's controller and executor that runs each pod's own script on this machine); the
pod itself is real: it submits to the real Slurm over SSH with the key and password of
the Kubernetes secrets, which the test mounts where the pod expects them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Dict

import hpc_ops
import pytest

from dflow import InputArtifact, OutputParameter, ShellOPTemplate, Step, Workflow, s3_config, upload_artifact
from dflow.errors import ValidationError
from dflow.python import PythonOPTemplate
from dflow.testing.argo_schema import schema_errors
from dflow_dispatcher import DispatcherExecutor

ARGO_TESTS = Path(__file__).resolve().parents[2] / "argo_backend" / "tests"
sys.path.insert(0, str(ARGO_TESTS))
from argo_sandbox import Sandbox  # noqa: E402
from sandbox_repo import SandboxRepository  # noqa: E402

OPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hpc_ops")
KEY_SECRET, PASSWORD_SECRET = "hpc-ssh-key", "hpc-ssh-password"


@pytest.fixture
def repo(local_run: Path) -> Path:
    store = local_run / "store"
    store.mkdir()
    s3_config["storage_client"] = SandboxRepository(root=str(store))
    return store


def _executor(slurm: Dict[str, Any], remote: str, mount: str, **kw: Any) -> DispatcherExecutor:
    return DispatcherExecutor(host=slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                              private_key_file=slurm["ssh_key"], private_key_secret=KEY_SECRET,
                              queue_name=slurm["partition"], remote_root=remote, secrets_mount=mount,
                              image="registry.example.org/dflow-dispatcher:1",
                              # the image's python3, which has this plugin: here, the tests' interpreter
                              command=sys.executable, **kw)


def _render(wf: Workflow) -> Any:
    from dflow_argo import ArgoBackend

    backend = ArgoBackend()
    comp = backend.compiler(wf.compile())
    manifest = comp.render()
    return backend, comp, manifest


def _mount_secrets(mount: Path, slurm: Dict[str, Any]) -> None:
    """What Kubernetes does for the pod: the secrets' keys as files below the mount path."""
    (mount / "ssh-key").mkdir(parents=True)
    shutil.copy(slurm["ssh_key"], mount / "ssh-key" / "ssh-privatekey")
    if slurm.get("ssh_password"):
        (mount / "ssh-password").mkdir(parents=True)
        (mount / "ssh-password" / "password").write_text(slurm["ssh_password"])


def test_the_manifest_names_the_secrets_and_holds_no_credential(slurm, remote, repo, tmp_path):
    password = "pw-" + "x" * 12
    wf = Workflow("argo-dispatcher")
    ex = DispatcherExecutor(host="login.example.org", username="me", password=password, password_secret=PASSWORD_SECRET,
                            private_key_file=slurm["ssh_key"], private_key_secret=KEY_SECRET, queue_name="cpu")
    wf.add(Step("sq", PythonOPTemplate(hpc_ops.square, python_packages=[OPS]), parameters={"x": 3}, executor=ex))
    _backend, _comp, manifest = _render(wf)
    assert schema_errors(manifest) == []
    text = json.dumps(manifest)
    assert password not in text and Path(slurm["ssh_key"]).read_text().strip()[40:80] not in text
    [t] = [t for t in manifest["spec"]["templates"] if t["name"].startswith("square")]
    secrets = {v["secret"]["secretName"] for v in t["volumes"] if "secret" in v}
    assert secrets == {KEY_SECRET, PASSWORD_SECRET}
    assert {m["mountPath"] for m in t["script"]["volumeMounts"]} == {"/etc/dflow-dispatcher/ssh-key",
                                                                     "/etc/dflow-dispatcher/ssh-password"}


def test_credentials_without_a_secret_name_are_refused_at_render(slurm, repo):
    wf = Workflow("no-secret")
    ex = DispatcherExecutor(host="login.example.org", username="me", password="pw", queue_name="cpu")
    wf.add(Step("sq", PythonOPTemplate(hpc_ops.square, python_packages=[OPS]), parameters={"x": 3}, executor=ex))
    with pytest.raises(ValidationError, match="password_secret"):
        _render(wf)


def test_a_python_op_and_a_shell_step_run_from_their_pods_as_slurm_jobs(slurm, remote, repo, tmp_path):
    mount = tmp_path / "mounted-secrets"
    _mount_secrets(mount, slurm)
    Path("in.txt").write_text("a\nb\n")
    sh = ShellOPTemplate(name="count", image="alpine",
                         script="wc -l < /tmp/in/in.txt > /tmp/n.txt\necho '{{inputs.parameters.word}}' > /tmp/w.txt\n"
                                "echo \"job $SLURM_JOB_ID\"\n")
    from dflow.io import InputParameter

    sh.inputs.parameters["word"] = InputParameter()
    sh.inputs.artifacts["data"] = InputArtifact(path="/tmp/in")
    sh.outputs.parameters["n"] = OutputParameter(value_from_path="/tmp/n.txt")
    sh.outputs.parameters["w"] = OutputParameter(value_from_path="/tmp/w.txt")
    wf = Workflow("argo-dispatcher")
    wf.add([Step("sq", PythonOPTemplate(hpc_ops.square, python_packages=[OPS]), parameters={"x": 7},
                 executor=_executor(slurm, remote, str(mount))),
            Step("count", sh, parameters={"word": 'hello "world" $HOME'}, artifacts={"data": upload_artifact("in.txt")},
                 executor=_executor(slurm, remote, str(mount)))])
    backend, comp, manifest = _render(wf)
    assert schema_errors(manifest) == []
    backend.upload(list(comp.uploads.values()))
    sb = Sandbox(manifest, str(repo), str(tmp_path / "pods"))
    phase = sb.run()
    nodes = {n.display: n for n in sb.nodes}
    assert phase == "Succeeded", [(n.display, n.phase, n.message) for n in sb.nodes]
    assert nodes["sq"].parameters["y"] == "49" and nodes["sq"].parameters["job"].isdigit()
    assert nodes["count"].parameters["n"] == "2"
    assert nodes["count"].parameters["w"] == 'hello "world" $HOME'
