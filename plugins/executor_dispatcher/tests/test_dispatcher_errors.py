"""Bad input and an unreachable cluster: clear errors, before any work or as the step's failure."""

from __future__ import annotations

import os
import time

import hpc_ops
import pytest

from dflow import Step, Workflow
from dflow.errors import ValidationError
from dflow.python import PythonOPTemplate
from dflow_dispatcher import DispatcherExecutor

OPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hpc_ops")


@pytest.mark.parametrize("kw, match", [
    ({"machine_dict": {"batch_type": "Slurmm"}}, "batch_type 'Slurmm'.*Slurm"),
    ({"machine_dict": {"context_type": "FTPContext"}}, "context_type 'FTPContext'"),
    ({"remote_root": "relative/dir"}, "remote_root on the cluster must be an absolute path"),
    ({"resources_dict": {"cpu_per_node": 0}}, "cpu_per_node must be a positive integer"),
    ({"merge_bohrium_job_group": True}, "merge_bohrium_job_group"),
])
def test_bad_settings_are_refused_when_the_executor_is_made(kw, match):
    args = {"host": "login.example.org", "queue_name": "cpu", **kw}
    with pytest.raises(ValidationError, match=match):
        DispatcherExecutor(**args)


def test_a_relative_remote_root_of_a_local_context_is_this_machines_directory(tmp_path, monkeypatch):
    """APEX's local examples give ``"remote_root": "./"`` with a Local context, as dflow accepts: it is the
    directory it names when the executor is made (over SSH a relative one stays refused, above)."""
    monkeypatch.chdir(tmp_path)
    ex = DispatcherExecutor(machine_dict={"batch_type": "Shell", "context_type": "Local", "local_root": "./",
                                          "remote_root": "./"})
    assert ex.machine_dict["remote_root"] == str(tmp_path)


def test_a_missing_host_is_refused_when_a_workflow_uses_the_executor(local_run):
    ex = DispatcherExecutor(username="foo")  # made from a partial configuration, as dpgen2 does: accepted
    wf = Workflow("no-host")
    wf.add(Step("s", PythonOPTemplate(hpc_ops.square, python_packages=[OPS]), parameters={"x": 2}, executor=ex))
    with pytest.raises(ValidationError, match="needs the cluster's host"):
        wf.to_dict()
    with pytest.raises(ValidationError, match="needs the cluster's host"):
        wf.submit()
    runs = local_run / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "a refused workflow left files behind"


def test_an_unreachable_cluster_fails_the_step_naming_it_after_the_retries(local_run):
    wf = Workflow("unreachable")
    ex = DispatcherExecutor(host="127.0.0.1", port=1, username="nobody", queue_name="cpu", remote_root="/tmp/x",
                            retry_on_submission_error=1)
    wf.add(Step("s", PythonOPTemplate(hpc_ops.square, python_packages=[OPS]), parameters={"x": 2}, executor=ex))
    start = time.monotonic()
    wf.submit()
    assert time.monotonic() - start >= 1.0, "the submission was not retried after a pause"
    assert wf.query_status() == "Failed"
    message = wf.query_step(name="s")[0].record.message
    assert "nobody@127.0.0.1:1" in message and "after 2 attempts" in message, message
