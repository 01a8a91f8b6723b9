"""Workflows on the local backend with the Slurm executors, against the real single-node Slurm.

``SlurmRemoteExecutor`` logs in over SSH (paramiko) and submits with ``sbatch``; no helper
binary is involved. ``SlurmJobTemplate`` on the local backend submits the same batch
script to Slurm on this machine, so a workflow written for wlm-operator virtual nodes
runs on a laptop with Slurm.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict

import pytest
from slurm_cluster import job_state, queue, ssh

from dflow import ShellOPTemplate, SlurmJobTemplate, SlurmRemoteExecutor, Step, Workflow, argo_range, config
from dflow.io import OutputArtifact, OutputParameter
from dflow.python import PythonOPTemplate, Slices

# the OPs of the HPC tests (dflow-dispatcher's tests folder), shipped to the cluster with the steps
OPS = str(Path(__file__).resolve().parents[2] / "executor_dispatcher" / "tests" / "hpc_ops")
sys.path.insert(0, str(Path(OPS).parent))
import hpc_ops  # noqa: E402


def remote_executor(slurm: Dict[str, Any], remote: str, header: str = "", **kw: Any) -> SlurmRemoteExecutor:
    return SlurmRemoteExecutor(slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                               private_key_file=slurm["ssh_key"], workdir=remote + "/{{workflow.name}}/{{pod.name}}",
                               header=f"#!/bin/sh\n#SBATCH --partition={slurm['partition']}\n{header}", **kw)


def op(fn: Any, **kw: Any) -> PythonOPTemplate:
    return PythonOPTemplate(fn, python_packages=[OPS], **kw)


def test_slurm_remote_executor_runs_a_python_op_and_honours_the_header(slurm, remote, local_run):
    wf = Workflow("remote")
    wf.add(Step("sq", op(hpc_ops.square), parameters={"x": 9},
                executor=remote_executor(slurm, remote, "#SBATCH --cpus-per-task=2")))
    t = ShellOPTemplate(name="env", image="alpine", script="echo $SLURM_CPUS_PER_TASK > /tmp/cpus\n")
    t.outputs.parameters["cpus"] = OutputParameter(value_from_path="/tmp/cpus")
    wf.add(Step("env", t, executor=remote_executor(slurm, remote, "#SBATCH --cpus-per-task=2")))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    s = wf.query_step(name="sq")[0]
    assert s.outputs.parameters["y"].value == 81 and s.outputs.parameters["job"].value
    assert s.record.launch["job"] == s.outputs.parameters["job"].value
    assert s.record.launch["where"].startswith(f"{slurm['ssh_user']}@{slurm['ssh_host']}:")
    assert wf.query_step(name="env")[0].outputs.parameters["cpus"].value in (2, "2")
    # the remote job directories were removed after the results came back
    assert ssh(slurm, f"find {remote} -name task.json 2>/dev/null").strip() == ""


def test_slurm_job_template_runs_the_virtual_node_example_on_this_machines_slurm(slurm, local_run):
    """The 3.1.16 workflow (sliced Python OP with a key per slice, then a check), with Slurm here."""
    wf = Workflow("wlm")
    hello = Step("hello", op(hpc_ops.square, slices=Slices("{{item}}", input_parameter=["x"],
                                                           output_parameter=["y", "job"])),
                 parameters={"x": [2, 3]}, with_param=argo_range(2), key="hello-{{item}}",
                 executor=SlurmJobTemplate(header="#!/bin/sh\n#SBATCH --nodes=1",
                                           node_selector={"kubernetes.io/hostname": "slurm-minikube-v100"}))
    wf.add(hello)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    group = wf.query_step(name="hello", type="StepGroup")[0]
    assert group.outputs.parameters["y"].value == [4, 9]
    jobs = group.outputs.parameters["job"].value
    assert len(set(jobs)) == 2 and all(j.isdigit() for j in jobs), jobs
    assert [s.key for s in wf.query_step(key=["hello-0", "hello-1"])] == ["hello-0", "hello-1"]


def test_a_shell_template_with_artifacts_over_ssh(slurm, remote, local_run):
    t = ShellOPTemplate(name="make", image="alpine",
                        script="mkdir -p /tmp/out && echo '{{inputs.parameters.word}}' > /tmp/out/w.txt\n"
                               "echo done > /tmp/msg\n")
    from dflow.io import InputParameter

    t.inputs.parameters["word"] = InputParameter()
    t.outputs.artifacts["out"] = OutputArtifact(path="/tmp/out")
    t.outputs.parameters["msg"] = OutputParameter(value_from_path="/tmp/msg")
    wf = Workflow("shell-remote")
    wf.add(Step("make", t, parameters={"word": "slurm"}, executor=remote_executor(slurm, remote)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    s = wf.query_step(name="make")[0]
    assert s.outputs.parameters["msg"].value == "done"
    from dflow import download_artifact

    got = download_artifact(s.outputs.artifacts["out"], path="dl")
    found = Path(got[0])
    assert (found / "w.txt" if found.is_dir() else found).read_text().strip() == "slurm"


def test_a_failing_job_puts_its_log_in_the_step_log(slurm, remote, local_run):
    wf = Workflow("fail")
    wf.add(Step("bad", op(hpc_ops.fail_for), parameters={"x": 1, "bad": 1}, executor=remote_executor(slurm, remote)))
    wf.submit()
    assert wf.query_status() == "Failed"
    s = wf.query_step(name="bad")[0]
    assert "fails on purpose" in (s.record.message or "")
    assert "Traceback" in Path(s.record.workdir, "log.txt").read_text()


def test_a_job_cancelled_outside_dflow_fails_the_step(slurm, remote, local_run):
    """A job cancelled outside dflow (an administrator, a time limit): the step fails and its log says so."""
    marker = f"{remote}/m"
    ssh(slurm, f"mkdir -p {remote}")
    wf = Workflow("killed")
    wf.add(Step("slow", op(hpc_ops.sleep_long), parameters={"marker": marker},
                executor=remote_executor(slurm, remote)))
    config["detach"] = True
    wf.submit()
    deadline = time.monotonic() + 60
    job = ""
    while not job and time.monotonic() < deadline:
        job = ssh(slurm, f"cat {marker} 2>/dev/null", check=False).strip()
        time.sleep(0.3)
    assert job, "the job never started"
    ssh(slurm, f"scancel {job}")  # ended outside dflow, as an administrator or a time limit would
    assert wf.wait(timeout=60) == "Failed"
    s = wf.query_step(name="slow")[0]
    assert "ended before the step did" in (s.record.message or "")
    assert job_state(slurm, job) in ("CANCELLED", "")


def test_terminate_cancels_the_job(slurm, remote, local_run):
    marker = f"{remote}/m"
    ssh(slurm, f"mkdir -p {remote}")
    config["detach"] = True
    wf = Workflow("term")
    wf.add(Step("slow", op(hpc_ops.sleep_long), parameters={"marker": marker}, executor=remote_executor(slurm, remote)))
    wf.submit()
    deadline = time.monotonic() + 60
    job = ""
    while not job and time.monotonic() < deadline:
        job = ssh(slurm, f"cat {marker} 2>/dev/null", check=False).strip()
        time.sleep(0.3)
    assert job in {r["id"] for r in queue(slurm)}
    wf.terminate()
    deadline = time.monotonic() + 30
    while job in {r["id"] for r in queue(slurm)} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job not in {r["id"] for r in queue(slurm)}, "terminate() left the job in Slurm's queue"


def test_the_password_stays_out_of_the_spec_and_the_run(slurm, remote, local_run):
    password = slurm.get("ssh_password")
    if not password:
        pytest.skip("the cluster given in DFLOW_TEST_SLURM has no password login")
    ex = SlurmRemoteExecutor(slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"], password=password,
                             workdir=remote + "/{{pod.name}}", header="#!/bin/sh")
    assert password not in repr(ex) and password not in json.dumps(ex.spec_options())
    wf = Workflow("pw")
    wf.add(Step("sq", op(hpc_ops.square), parameters={"x": 4}, executor=ex))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    for f in Path(local_run).rglob("*"):
        if f.is_file():
            assert password.encode() not in f.read_bytes(), f
