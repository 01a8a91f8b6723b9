"""The fork server starts while the workflow compiles, and nothing of it outlives the submit.

``Workflow.submit()`` enters ``LocalBackend.submitting()`` before it compiles: the fork
server's interpreter starts and imports the step runtime meanwhile, gets the run's OPs once
the spec is made, and the driver forked next takes it over. These tests run real workflows
and look at the real processes.
"""

from __future__ import annotations

import os
import time
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


@OP.function
def wait_for(path: str) -> {"waited": int}:
    """Blocks until ``path`` exists (at most a minute)."""
    import time

    for _ in range(1200):
        if os.path.exists(path):
            return {"waited": 1}
        time.sleep(0.05)
    return {"waited": 0}


def test_runs_submitted_from_two_threads_end_independently(local):
    """The submitting process keeps its copy of its fork server's channel until its driver has
    ended, so a driver forked meanwhile by another thread holds a copy too: the first run's server
    must still end when that run does (the channel is shut down, not just closed), not when the
    second run does."""
    import threading

    results = {}

    def run(name: str, release: str) -> None:
        wf = Workflow(name)
        wf.add(Step("wait", PythonOPTemplate(wait_for), parameters={"path": str(local / release)}))
        wf.submit()
        results[name] = wf.query_status()

    first = threading.Thread(target=run, args=("first", "release-first"))
    first.start()
    deadline = 600
    while deadline and not list(local.glob("first-*/nodes.jsonl")):  # the first run is under way
        time.sleep(0.05)
        deadline -= 1
    second = threading.Thread(target=run, args=("second", "release-second"))
    second.start()  # its driver is forked while the first run's server is up
    while deadline and not list(local.glob("second-*/nodes.jsonl")):
        time.sleep(0.05)
        deadline -= 1
    (local / "release-first").touch()
    first.join(timeout=20)  # the second run still waits: the first must end all the same
    ended_first = not first.is_alive()
    (local / "release-second").touch()
    second.join(timeout=60)
    first.join(timeout=60)
    assert ended_first, "the first run's submit waited for the second run to end"
    assert results == {"first": "Succeeded", "second": "Succeeded"}


def test_the_submitting_process_leaves_the_event_loop_to_the_driver(tmp_path):
    """Everything the submitting process imports delays the fork server's start and the first
    step: a local run's asyncio is imported by the driver, after the fork, not before it."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "wf.py"
    script.write_text(textwrap.dedent('''
        import sys
        from dflow import Step, Workflow, config
        from dflow.python import OP, PythonOPTemplate

        @OP.function
        def one() -> {"x": int}:
            return {"x": 1}

        config["mode"] = "debug"
        config["debug_workdir"] = sys.argv[1]
        wf = Workflow("light")
        wf.add(Step("one", PythonOPTemplate(one)))
        wf.submit()
        print(wf.query_status(), "asyncio" in sys.modules)
    '''))
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Succeeded", "False"], out.stdout + out.stderr


def test_the_local_backend_exists_before_pydantic_is_imported():
    """The fork server starts from the backend object (``submitting``), before the workflow compiles:
    loading the plugins and making that object must not import pydantic and the spec (about 55 ms)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dflow import config\n"
        "from dflow.workflow import get_backend_for_mode\n"
        "config['mode'] = 'debug'\n"
        "backend = get_backend_for_mode()\n"
        "print(type(backend).__name__, sorted(m for m in ('pydantic', 'dflow.spec') if m in sys.modules))\n"
        "from dflow.backend import StepRecord, WorkflowRecord\n"  # the records still import from here
        "print(StepRecord.__name__, WorkflowRecord.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["LocalBackend []", "StepRecord WorkflowRecord"], out.stdout
