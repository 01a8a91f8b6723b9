"""Bad input is refused when an executor is made, naming the fix; an unreachable login host fails the step."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dflow import RemoteExecutor, SlurmJobTemplate, SlurmRemoteExecutor, Step, Workflow
from dflow.errors import ValidationError
from dflow.python import PythonOPTemplate

OPS = Path(__file__).resolve().parents[2] / "executor_dispatcher" / "tests" / "hpc_ops"
sys.path.insert(0, str(OPS.parent))
import hpc_ops  # noqa: E402


@pytest.mark.parametrize("make, match", [
    (lambda: SlurmRemoteExecutor(""), "host is required"),
    (lambda: SlurmRemoteExecutor("h", workdir="relative/dir"), "must be absolute or start with ~"),
    (lambda: SlurmRemoteExecutor("h", docker_executable="docker"), "remote_command"),
    (lambda: RemoteExecutor("h"), "use SlurmRemoteExecutor"),
    (lambda: SlurmJobTemplate(node_selector={"a": 1}), "node_selector must map"),
])
def test_bad_settings_are_refused(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


def test_an_unreachable_login_host_fails_the_step_naming_it(local_run):
    wf = Workflow("unreachable")
    ex = SlurmRemoteExecutor("127.0.0.1", port=1, username="nobody", action_retries=1)
    wf.add(Step("s", PythonOPTemplate(hpc_ops.square, python_packages=[str(OPS)]), parameters={"x": 2}, executor=ex))
    wf.submit()
    assert wf.query_status() == "Failed"
    message = wf.query_step(name="s")[0].record.message
    assert "nobody@127.0.0.1:1" in message, message
