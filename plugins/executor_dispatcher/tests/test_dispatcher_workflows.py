"""Workflows on the local backend whose steps run as Slurm jobs over SSH, through DispatcherExecutor.

Everything here runs against the real single-node Slurm and the real SSH server the
session's fixture starts (see ``slurm_cluster.py``): the steps' directories go to the
test user's home over SFTP, jobs are submitted with ``sbatch`` and watched with
``squeue``, and the scheduler's own queue is checked after cancellations.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict

import hpc_ops
import pytest
from slurm_cluster import job_state, queue, ssh

from dflow import ShellOPTemplate, Step, Workflow, argo_range, config, upload_artifact
from dflow.python import PythonOPTemplate, Slices
from dflow_dispatcher import DispatcherExecutor

# the package of the OPs, shipped to the cluster with the steps (the cluster cannot import the tests)
OPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hpc_ops")


def executor(slurm: Dict[str, Any], remote: str, **kw: Any) -> DispatcherExecutor:
    return DispatcherExecutor(host=slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                              private_key_file=slurm["ssh_key"], queue_name=slurm["partition"], remote_root=remote, **kw)


def op(fn: Any, **kw: Any) -> PythonOPTemplate:
    return PythonOPTemplate(fn, python_packages=[OPS], **kw)


def test_a_python_op_runs_as_a_slurm_job_with_its_artifacts(slurm, remote, local_run):
    Path("foo.txt").write_text("Hi")
    Path("tidir").mkdir()
    (Path("tidir") / "f1").write_text("foo")
    (Path("tidir") / "f2").write_text("bar")
    wf = Workflow("dispatcher")
    step = Step("step", op(hpc_ops.duplicate), parameters={"msg": "Hello", "num": 3},
                artifacts={"foo": upload_artifact("foo.txt"), "idir": upload_artifact("tidir")},
                executor=executor(slurm, remote))
    wf.add(step)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    s = wf.query_step(name="step")[0]
    assert s.outputs.parameters["msg"].value == ["HelloHelloHello"]
    job, user, version, _host = s.outputs.parameters["where"].value.split()
    assert job != "no-slurm" and user == slurm["ssh_user"], "the OP did not run as a Slurm job of the SSH user"
    assert tuple(int(v) for v in version.split(".")) >= (3, 8)
    from dflow import download_artifact

    bar = download_artifact(s.outputs.artifacts["bar"], path="dl")
    assert Path(bar[0]).read_text() == "HiHiHi"
    odir = download_artifact(s.outputs.artifacts["odir"], path="dl2")
    assert (Path(odir[0]) / "f2").read_text() == "barbarbar"
    # the step record names the job and where it ran; the remote directory was cleaned
    launch = s.record.launch
    assert launch["executor"] == "dispatcher" and launch["job"] == job
    assert launch["where"].startswith(f"{slurm['ssh_host']}:{remote}/")
    assert ssh(slurm, f"ls {remote} 2>/dev/null | grep -v '^$' || true").strip() == ""


def test_a_shell_template_with_tmp_paths_runs_as_a_slurm_job(slurm, remote, local_run):
    Path("in.txt").write_text("one\ntwo\nthree\n")
    t = ShellOPTemplate(name="count", image="alpine",
                        script="wc -l < /tmp/in/in.txt > /tmp/n.txt\n"
                               "mkdir -p /tmp/out && cp /tmp/in/in.txt /tmp/out/copy.txt\n"
                               "echo \"job $SLURM_JOB_ID on $(hostname)\"\n")
    from dflow import InputArtifact, OutputArtifact, OutputParameter

    t.inputs.artifacts["data"] = InputArtifact(path="/tmp/in")
    t.outputs.parameters["n"] = OutputParameter(value_from_path="/tmp/n.txt", type=int)
    t.outputs.artifacts["out"] = OutputArtifact(path="/tmp/out")
    wf = Workflow("shell")
    wf.add(Step("count", t, artifacts={"data": upload_artifact("in.txt")}, executor=executor(slurm, remote)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    s = wf.query_step(name="count")[0]
    assert int(s.outputs.parameters["n"].value) == 3
    log = Path(s.record.workdir, "log.txt").read_text()
    assert f"job {s.record.launch['job']} on" in log


@pytest.mark.parametrize("merge", [False, True], ids=["job-per-slice", "merged"])
def test_a_sliced_step_runs_its_slices_as_slurm_jobs(slurm, remote, local_run, merge):
    wf = Workflow("slices")
    wf.add(Step("sq", op(hpc_ops.square, slices=Slices("{{item}}", input_parameter=["x"], output_parameter=["y", "job"])),
                parameters={"x": [1, 2, 3, 4]}, with_param=argo_range(4),
                executor=executor(slurm, remote, merge_sliced_step=merge)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    group = wf.query_step(name="sq", type="StepGroup")[0]
    assert group.outputs.parameters["y"].value == [1, 4, 9, 16]
    jobs = group.outputs.parameters["job"].value
    assert all(jobs)
    if merge:
        assert len(set(jobs)) == 1, f"merge_sliced_step ran the slices in several jobs: {jobs}"
    else:
        assert len(set(jobs)) == 4, jobs


def test_a_failing_job_fails_the_step_with_the_job_log(slurm, remote, local_run):
    wf = Workflow("fail")
    wf.add(Step("bad", op(hpc_ops.fail_for), parameters={"x": 7, "bad": 7}, executor=executor(slurm, remote)))
    wf.submit()
    assert wf.query_status() == "Failed"
    s = wf.query_step(name="bad")[0]
    assert s.phase == "Failed" and "fails on purpose" in (s.record.message or "")
    log = Path(s.record.workdir, "log.txt").read_text()
    assert "RuntimeError: slice with x=7 fails on purpose" in log and "Traceback" in log


def test_continue_on_num_success_with_a_failing_slice(slurm, remote, local_run):
    wf = Workflow("partial")
    wf.add(Step("some", op(hpc_ops.fail_for, slices=Slices("{{item}}", input_parameter=["x"], output_parameter=["y"])),
                parameters={"x": [1, 2, 3], "bad": 2}, with_param=argo_range(3), continue_on_num_success=2,
                executor=executor(slurm, remote, merge_sliced_step=True)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    group = wf.query_step(name="some", type="StepGroup")[0]
    assert group.outputs.parameters["y"].value == [101, None, 103]


def test_a_transient_error_is_retried_as_a_new_job(slurm, remote, local_run):
    marker = f"{remote}/flaky-marker"
    ssh(slurm, f"mkdir -p {remote}")
    wf = Workflow("retry")
    wf.add(Step("flaky", op(hpc_ops.flaky, retry_on_transient_error=2), parameters={"marker": marker},
                executor=executor(slurm, remote)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    s = wf.query_step(name="flaky")[0]
    assert s.outputs.parameters["attempt"].value == 2 and s.record.attempts == 2
    log = Path(s.record.workdir, "log.txt").read_text()
    assert "the first attempt fails on purpose" in log and "--- attempt 2 ---" in log


def _wait_for(path: str, slurm: Dict[str, Any], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = ssh(slurm, f"cat {path} 2>/dev/null", check=False).strip()
        if out:
            return out
        time.sleep(0.3)
    raise AssertionError(f"{path} never appeared on the cluster")


def test_a_timeout_cancels_the_slurm_job(slurm, remote, local_run):
    marker = f"{remote}/sleep-marker"
    ssh(slurm, f"mkdir -p {remote}")
    wf = Workflow("timeout")
    wf.add(Step("slow", op(hpc_ops.sleep_long), parameters={"marker": marker}, timeout=8,
                executor=executor(slurm, remote)))
    wf.submit()
    assert wf.query_status() == "Failed"
    s = wf.query_step(name="slow")[0]
    assert "timed out" in (s.record.message or "")
    job = ssh(slurm, f"cat {marker}").strip()
    assert job == s.record.launch["job"]
    assert job not in {r["id"] for r in queue(slurm)}, "the timed-out job is still in Slurm's queue"
    assert job_state(slurm, job) in ("CANCELLED", "")


def test_terminate_cancels_the_slurm_job(slurm, remote, local_run, capsys):
    marker = f"{remote}/sleep-marker"
    ssh(slurm, f"mkdir -p {remote}")
    config["detach"] = True
    wf = Workflow("terminate")
    wf.add(Step("slow", op(hpc_ops.sleep_long), parameters={"marker": marker}, executor=executor(slurm, remote)))
    wf.submit()
    job = _wait_for(marker, slurm)
    assert job in {r["id"] for r in queue(slurm)}
    # `dflow get` shows the job and the scheduler's state while it runs
    s = wf.query_step(name="slow")[0]
    assert s.record.launch["job"] == job and s.record.launch["state"]
    from dflow.cli import main as dflow_main

    capsys.readouterr()
    assert dflow_main(["--mode", "debug", "get", wf.id]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if "slow" in line]
    assert shown and f"job={job}" in shown[0] and "state=" in shown[0], shown
    wf.terminate()
    deadline = time.monotonic() + 30
    while job in {r["id"] for r in queue(slurm)} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job not in {r["id"] for r in queue(slurm)}, "terminate() left the Slurm job running"
    assert job_state(slurm, job) in ("CANCELLED", "")
    assert wf.query_status() == "Failed"


def test_clean_false_keeps_the_remote_directory_and_the_record_says_where(slurm, remote, local_run):
    wf = Workflow("keep")
    wf.add(Step("sq", op(hpc_ops.square), parameters={"x": 5}, executor=executor(slurm, remote, clean=False)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    s = wf.query_step(name="sq")[0]
    where = s.record.launch["where"]
    host, path = where.split(":", 1)
    assert host == slurm["ssh_host"] and path.startswith(remote)
    listing = ssh(slurm, f"ls -a {path}")
    assert "task.json" in listing and ".dflow-back" in listing
    assert f"kept at {where}" in Path(s.record.workdir, "log.txt").read_text()


def test_a_password_login_keeps_the_password_out_of_everything_written(slurm, remote, local_run):
    password = slurm.get("ssh_password")
    if not password:
        pytest.skip("the cluster given in DFLOW_TEST_SLURM has no password login")
    ex = DispatcherExecutor(host=slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                            password=password, queue_name=slurm["partition"], remote_root=remote,
                            machine_dict={"remote_profile": {"look_for_keys": False}})
    assert password not in repr(ex) and password not in json.dumps(ex.spec_options())
    wf = Workflow("password")
    wf.add(Step("sq", op(hpc_ops.square), parameters={"x": 6}, executor=ex))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert wf.query_step(name="sq")[0].outputs.parameters["y"].value == 36
    assert password not in wf.compile().to_json()
    for root, _dirs, files in os.walk(local_run):
        for name in files:
            data = Path(root, name).read_bytes()
            assert password.encode() not in data, f"the password was written to {os.path.join(root, name)}"


def test_after_the_driver_was_killed_dflow_terminate_in_another_process_cancels_the_job(slurm, remote, local_run):
    import signal
    import subprocess

    marker = f"{remote}/sleep-marker"
    ssh(slurm, f"mkdir -p {remote}")
    config["detach"] = True
    wf = Workflow("killed-driver")
    wf.add(Step("slow", op(hpc_ops.sleep_long), parameters={"marker": marker}, executor=executor(slurm, remote)))
    wf.submit()
    job = _wait_for(marker, slurm)
    record = json.loads(Path(config["debug_workdir"], wf.id, "workflow.json").read_text())
    os.kill(record["driver_pid"], signal.SIGKILL)  # the driver dies; the job runs on
    time.sleep(1)
    assert job in {r["id"] for r in queue(slurm)}
    env = {**os.environ, "DFLOW_MODE": "debug", "DFLOW_DEBUG_WORKDIR": config["debug_workdir"]}
    proc = subprocess.run([sys.executable, "-m", "dflow.cli", "terminate", wf.id], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 30
    while job in {r["id"] for r in queue(slurm)} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job not in {r["id"] for r in queue(slurm)}, "dflow terminate left the dead driver's job running"


def _python38() -> str:
    import glob
    import subprocess

    for cand in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8"))) + ["/usr/bin/python3.8"]:
        if os.path.exists(cand) and subprocess.run([cand, "-c", "import sys; assert sys.version_info[:2] == (3, 8)"],
                                                   capture_output=True).returncode == 0:
            return cand
    return ""


@pytest.mark.skipif(not _python38(), reason="no python3.8 on this machine to stand for an old cluster Python")
def test_a_python_op_runs_on_the_clusters_python_3_8(slurm, local_run):
    """The cluster's Python is 3.8 (the Slurm job runs it, through the local context): no pickles cross."""
    ex = DispatcherExecutor(queue_name=slurm["partition"], remote_root=str(local_run / "cluster"),
                            remote_command=[_python38()],
                            machine_dict={"batch_type": "Slurm", "context_type": "LocalContext"})
    wf = Workflow("py38")
    wf.add(Step("dup", op(hpc_ops.duplicate), parameters={"msg": "a", "num": 2},
                artifacts={"foo": upload_artifact(_write("foo.txt", "x")), "idir": upload_artifact(_tidir())},
                executor=ex))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    where = wf.query_step(name="dup")[0].outputs.parameters["where"].value.split()
    assert where[2] == "3.8" and where[0].isdigit(), where


def _write(name: str, text: str) -> str:
    Path(name).write_text(text)
    return name


def _tidir() -> str:
    Path("tidir").mkdir(exist_ok=True)
    for n in ("f1", "f2"):
        (Path("tidir") / n).write_text(n)
    return "tidir"
