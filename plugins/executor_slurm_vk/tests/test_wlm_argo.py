"""SlurmJobTemplate on Argo: the wlm-operator virtual-node pattern (user guide 3.1.16).

The manifests are checked against Argo's strict schema and every ``SlurmJob`` object
against the wlm-operator CRD's schema (``slurmjob_crd.yaml``). No Kubernetes and no
wlm-operator can run here, so the workflow runs in the Argo backend's test sandbox
(``argo_sandbox.py``, a stand-in for Argo that runs each pod's own script on this
machine) extended with two stand-ins: host-path volumes (a directory of the test) and
the operator itself (:class:`OperatorSandbox`: it validates the SlurmJob, copies
``spec.prepare``, submits ``spec.batch`` to the real Slurm with ``sbatch``, waits for it
with ``squeue`` and copies ``spec.results`` back). The prepare and collect pods and the
batch script are the real ones.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest
import yaml

from dflow import SlurmJobTemplate, Step, Workflow, argo_range, s3_config
from dflow.io import InputParameter, OutputArtifact, OutputParameter
from dflow.op_template import ShellOPTemplate
from dflow.python import PythonOPTemplate, Slices
from dflow.testing.argo_schema import schema_errors
from dflow_slurm_vk.wlm_render import HOST_ROOT

HERE = Path(__file__).resolve().parent
ARGO_TESTS = HERE.parents[1] / "argo_backend" / "tests"
sys.path.insert(0, str(ARGO_TESTS))
from argo_sandbox import Node, Sandbox  # noqa: E402
from sandbox_repo import SandboxRepository  # noqa: E402

from dflow import expressions as X  # noqa: E402

OPS = HERE.parents[1] / "executor_dispatcher" / "tests" / "hpc_ops"
sys.path.insert(0, str(OPS.parent))
import hpc_ops  # noqa: E402

CRD = yaml.safe_load((HERE / "slurmjob_crd.yaml").read_text())
SLURMJOB_SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def slurm_jobs(manifest: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [yaml.safe_load(t["resource"]["manifest"]) for t in manifest["spec"]["templates"] if "resource" in t]


def crd_errors(obj: Dict[str, Any]) -> List[str]:
    return [e.message for e in jsonschema.Draft7Validator(SLURMJOB_SCHEMA).iter_errors(obj)]


class _PodDir(type(Path())):  # type: ignore[misc]
    """A pod directory the sandbox may find already made (its host-path mounts are links in it)."""

    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        super().mkdir(mode, parents, True)


class OperatorSandbox(Sandbox):
    """The Argo sandbox with host-path volumes and a stand-in wlm-operator on the real Slurm (see the module docstring)."""

    def __init__(self, *args: Any, host: Path, slurm_home: Path, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.host, self.slurm_home = host, slurm_home
        self.objects: List[Dict[str, Any]] = []

    def host_path(self, path: str) -> Path:
        assert path.startswith(HOST_ROOT), f"a host path outside {HOST_ROOT}: {path}"
        return self.host / path[len(HOST_ROOT):].lstrip("/")

    def _attempt(self, t: Dict[str, Any], params: Any, arts: Any, node: Node, pod: Path, deadline: Any,
                 seq: int) -> Any:
        vols = {v["name"]: v["hostPath"]["path"] for v in t.get("volumes", []) if "hostPath" in v}
        pod = _PodDir(pod)
        for m in t.get("script", {}).get("volumeMounts", []):
            if m["name"] in vols:
                target = self.host_path(vols[m["name"]])
                target.mkdir(parents=True, exist_ok=True)
                link = pod / m["mountPath"].lstrip("/")
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(target)
        return super()._attempt(t, params, arts, node, pod, deadline, seq)

    def run_template(self, t: Dict[str, Any], params: Dict[str, str], arts: Any, node: Node, path: str) -> None:
        if "resource" not in t:
            return super().run_template(t, params, arts, node, path)
        node.type = "Pod"
        p_in, _ = self._bind_inputs(t, params, arts)
        name = f"{self.name}-{t['name']}-{len(self.objects)}"

        def resolve(ref: str) -> Any:
            if ref.startswith("inputs.parameters."):
                return p_in[ref[len("inputs.parameters."):]]
            return name if ref == "pod.name" else self._global(ref)

        obj = yaml.safe_load(X.substitute(t["resource"]["manifest"], resolve))
        self.objects.append(obj)
        errors = crd_errors(obj)
        if errors:
            node.phase, node.message = "Error", f"the API server refuses the SlurmJob: {errors}"
            return
        spec = obj["spec"]
        to = self.slurm_home / spec["prepare"]["to"]
        to.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.host_path(spec["prepare"]["mount"]["hostPath"]["path"]), to, dirs_exist_ok=True)
        batch = self.slurm_home / f"{name}.sbatch"
        batch.write_text(spec["batch"])
        out = subprocess.run(["sbatch", "--parsable", f"--chdir={self.slurm_home}",
                              f"--output={self.slurm_home}/{name}.out", str(batch)],
                             capture_output=True, text=True, check=True).stdout
        job = out.strip().split(";")[0]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            listed = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout
            if listed.strip() in ("", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
                break
            time.sleep(0.3)
        results = self.host_path(spec["results"]["mount"]["hostPath"]["path"]) / obj["metadata"]["name"]
        shutil.copytree(self.slurm_home / spec["results"]["from"], results, dirs_exist_ok=True)
        node.parameters = {"dflow_job": obj["metadata"]["name"]}
        node.phase, node.exit_code = "Succeeded", 0
        node.finished = time.time()


@pytest.fixture
def argo(local_run: Path) -> Path:
    store = local_run / "store"
    store.mkdir()
    s3_config["storage_client"] = SandboxRepository(root=str(store))
    return store


def _render(wf: Workflow) -> Any:
    from dflow_argo import ArgoBackend

    backend = ArgoBackend()
    comp = backend.compiler(wf.compile())
    return backend, comp, comp.render()


def virtual_node_workflow() -> Workflow:
    """The user guide's 3.1.16 workflow: a sliced OP on a virtual node, one key per slice."""
    wf = Workflow("wlm")
    hello = Step("hello", PythonOPTemplate(hpc_ops.square, python_packages=[str(OPS)],
                                           slices=Slices("{{item}}", input_parameter=["x"], output_parameter=["y"])),
                 parameters={"x": [3, 4]}, with_param=argo_range(2), key="hello-{{item}}",
                 executor=SlurmJobTemplate(header="#!/bin/sh\n#SBATCH --nodes=1",
                                           node_selector={"kubernetes.io/hostname": "slurm-minikube-v100"}))
    wf.add(hello)
    return wf


def test_the_manifest_is_the_virtual_node_pattern_and_valid(argo):
    _backend, _comp, manifest = _render(virtual_node_workflow())
    assert schema_errors(manifest) == []
    names = {t["name"] for t in manifest["spec"]["templates"]}
    [main] = [t for t in manifest["spec"]["templates"] if t["name"].startswith("square") and "steps" in t]
    assert [s[0]["name"] for s in main["steps"]] == [f"{main['name']}-prepare", f"{main['name']}-run",
                                                     f"{main['name']}-collect"]
    assert {f"{main['name']}-prepare", f"{main['name']}-run", f"{main['name']}-collect"} <= names
    [job] = slurm_jobs(manifest)
    assert crd_errors(job) == []
    assert job["kind"] == "SlurmJob" and job["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "slurm-minikube-v100"}
    assert job["spec"]["batch"].startswith("#!/bin/sh\n#SBATCH --nodes=1\n")
    assert job["spec"]["prepare"]["mount"]["hostPath"]["path"] == "{{inputs.parameters.dflow_vol_path}}"
    [run] = [t for t in manifest["spec"]["templates"] if "resource" in t]
    assert run["resource"]["successCondition"] == "status.status == Succeeded"


def test_the_virtual_node_workflow_runs_with_a_stand_in_operator_on_the_real_slurm(slurm, argo, tmp_path):
    backend, comp, manifest = _render(virtual_node_workflow())
    backend.upload(list(comp.uploads.values()))
    sb = OperatorSandbox(manifest, str(argo), str(tmp_path / "pods"), host=tmp_path / "host",
                         slurm_home=tmp_path / "slurm-home")
    phase = sb.run()
    assert phase == "Succeeded", [(n.display, n.phase, n.message) for n in sb.nodes]
    assert len(sb.objects) == 2 and all(crd_errors(o) == [] for o in sb.objects)
    group = next(n for n in sb.nodes if n.display == "hello")
    assert json.loads(group.parameters["y"]) == [9, 16]
    jobs = [n.parameters.get("job") for n in sb.nodes if n.display.startswith("square") and n.display.endswith("-collect")]
    assert len(jobs) == 2 and all(j and j.isdigit() for j in jobs), "the OP did not run inside a Slurm job"


def test_a_script_step_on_a_virtual_node(slurm, argo, tmp_path):
    t = ShellOPTemplate(name="greet", image="alpine",
                        script="mkdir -p /tmp/out && echo 'hi {{inputs.parameters.who}}' > /tmp/out/g.txt\n"
                               "echo $SLURM_JOB_ID > /tmp/job\n")
    t.inputs.parameters["who"] = InputParameter()
    t.outputs.parameters["job"] = OutputParameter(value_from_path="/tmp/job")
    t.outputs.artifacts["out"] = OutputArtifact(path="/tmp/out")
    wf = Workflow("wlm-shell")
    wf.add(Step("greet", t, parameters={"who": "slurm"}, executor=SlurmJobTemplate(header="#!/bin/sh")))
    backend, comp, manifest = _render(wf)
    assert schema_errors(manifest) == [] and all(crd_errors(j) == [] for j in slurm_jobs(manifest))
    backend.upload(list(comp.uploads.values()))
    sb = OperatorSandbox(manifest, str(argo), str(tmp_path / "pods"), host=tmp_path / "host",
                         slurm_home=tmp_path / "slurm-home")
    assert sb.run() == "Succeeded", [(n.display, n.phase, n.message) for n in sb.nodes]
    greet = next(n for n in sb.nodes if n.display == "greet")
    assert greet.parameters["job"].isdigit()
    key = greet.artifacts["out"]
    assert key and key.endswith(".tgz"), key  # Argo's default archive: one tarball of the output
    with tarfile.open(Path(argo) / key) as tf:
        tf.extractall(tmp_path / "out")
    found = list((tmp_path / "out").rglob("g.txt"))
    assert any(f.read_text().strip() == "hi slurm" for f in found), key
