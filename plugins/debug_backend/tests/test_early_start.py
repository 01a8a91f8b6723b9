"""The fork server starts while the workflow compiles, and nothing of it outlives the submit.

``Workflow.submit()`` enters ``LocalBackend.submitting()`` before it compiles: the fork
server's interpreter starts and imports the step runtime meanwhile, gets the run's OPs once
the spec is made, and the driver forked next takes it over. These tests run real workflows
and look at the real processes.
"""

from __future__ import annotations

import os
from typing import List

import pytest

from dflow import Step, Workflow, config
from dflow.python import OP, PythonOPTemplate


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _children() -> List[int]:
    out: List[int] = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


@OP.function
def lineage() -> {"up": List[int]}:
    """The pids above this attempt: its zygote, the manager, and whoever started the manager."""
    up, pid = [], os.getpid()
    for _ in range(3):
        pid = _parent(pid)
        up.append(pid)
    return {"up": up}


def test_the_submitting_process_starts_the_server_and_collects_it(local):
    before = set(_children())
    wf = Workflow("early")
    wf.add(Step("where", PythonOPTemplate(lineage)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    [step] = wf.query_step(name="where")
    zygote, manager, starter = step.outputs.parameters["up"].value
    assert starter == os.getpid()  # started here, before the driver existed
    assert not os.path.exists(f"/proc/{manager}") and not os.path.exists(f"/proc/{zygote}")  # ended and reaped
    assert set(_children()) <= before


def test_a_compile_that_fails_leaves_no_server_behind(local, monkeypatch):
    def broken(self):
        raise ValueError("compiling failed on purpose")

    monkeypatch.setattr(Workflow, "compile", broken)
    before = set(_children())
    wf = Workflow("broken")
    wf.add(Step("where", PythonOPTemplate(lineage)))
    with pytest.raises(ValueError, match="on purpose"):
        wf.submit()
    assert set(_children()) <= before  # the server was stopped and reaped: no process, no zombie
    assert not any(p.name.startswith("broken") for p in local.iterdir())  # and no run was written


def test_a_detached_run_starts_its_own_server(local, monkeypatch):
    monkeypatch.setitem(config, "detach", True)
    wf = Workflow("detached")
    wf.add(Step("where", PythonOPTemplate(lineage)))
    wf.submit()
    assert wf.wait(timeout=60) == "Succeeded", wf.query().message
    [step] = wf.query_step(name="where")
    _zygote, _manager, starter = step.outputs.parameters["up"].value
    assert starter != os.getpid()  # its driver's: the server must not depend on this process's session
