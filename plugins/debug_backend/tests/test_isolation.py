"""Every step runs as if in its own pod: nothing an earlier step did is visible to a later one.

On a cluster each step is a fresh container. Locally each attempt is forked from a parent
that never runs a step, so environment variables, imported modules (also from
``python_packages``), logging handlers, pending alarms, the umask and the recursion limit
start clean in every step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dflow import Step, Workflow, config
from dflow.python import OP, PythonOPTemplate


@OP.function
def pollute(tag: str) -> {"pid": int}:
    """Leaves behind everything a process can leave behind."""
    import logging

    os.environ["DFLOW_LEAKED_VARIABLE"] = tag
    logging.getLogger().addHandler(logging.StreamHandler())
    logging.getLogger("dflow.isolation").setLevel(logging.DEBUG)
    signal.alarm(600)
    os.umask(0o077)
    sys.setrecursionlimit(123)
    sys.modules["dflow_leaked_module"] = type(sys)("dflow_leaked_module")
    return {"pid": os.getpid()}


@OP.function
def inspect_state(expected_umask: int, expected_limit: int) -> {"report": str, "pid": int, "handlers": int}:
    """What the step finds: a list of everything that is not clean (and its logging handlers, to compare)."""
    import logging

    problems = []
    if "DFLOW_LEAKED_VARIABLE" in os.environ:
        problems.append("environment variable")
    if "dflow_leaked_module" in sys.modules:
        problems.append("module")
    if logging.getLogger("dflow.isolation").level != logging.NOTSET:
        problems.append("logger level")
    if signal.alarm(0) != 0:
        problems.append("pending alarm")
    mask = os.umask(0)
    os.umask(mask)
    if mask != expected_umask:
        problems.append(f"umask {oct(mask)}")
    if sys.getrecursionlimit() != expected_limit:
        problems.append(f"recursion limit {sys.getrecursionlimit()}")
    return {"report": ", ".join(problems) or "clean", "pid": os.getpid(), "handlers": len(logging.getLogger().handlers)}


@OP.function
def version_of_mylib() -> {"version": str}:
    import mylib

    return {"version": mylib.VERSION}


@OP.function
def mylib_importable() -> {"importable": bool}:
    import importlib.util

    return {"importable": importlib.util.find_spec("mylib") is not None}


@pytest.fixture
def local(local, monkeypatch):
    # one worker: the steps run one after another, as they would in one warm process
    monkeypatch.setitem(config, "debug_workers", 1)
    return local


def test_a_step_sees_nothing_an_earlier_step_left_behind(local):
    mask = os.umask(0)
    os.umask(mask)
    check = {"expected_umask": mask, "expected_limit": sys.getrecursionlimit()}
    wf = Workflow("isolation")
    wf.add(Step("before", PythonOPTemplate(inspect_state), parameters=check))
    wf.add(Step("pollute", PythonOPTemplate(pollute), parameters={"tag": "x"}))
    wf.add(Step("inspect", PythonOPTemplate(inspect_state), parameters=check))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    [before] = wf.query_step(name="before")
    [inspected] = wf.query_step(name="inspect")
    assert before.outputs.parameters["report"].value == "clean"
    assert inspected.outputs.parameters["report"].value == "clean"
    assert inspected.outputs.parameters["handlers"].value == before.outputs.parameters["handlers"].value
    [polluted] = wf.query_step(name="pollute")
    assert polluted.outputs.parameters["pid"].value != inspected.outputs.parameters["pid"].value
    assert "DFLOW_LEAKED_VARIABLE" not in os.environ  # nor did anything reach the submitting process


def _mylib(root: Path, version: str) -> str:
    pkg = root / f"v{version}" / "mylib"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(f"VERSION = {version!r}\n"))
    return str(pkg)


def test_python_packages_are_seen_only_by_the_steps_that_ask_for_them(local):
    one, two = _mylib(local, "1.0"), _mylib(local, "2.0")
    wf = Workflow("packages")
    wf.add(Step("first", PythonOPTemplate(version_of_mylib, python_packages=[one])))
    wf.add(Step("second", PythonOPTemplate(version_of_mylib, python_packages=[two])))
    wf.add(Step("without", PythonOPTemplate(mylib_importable)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert wf.query_step(name="first")[0].outputs.parameters["version"].value == "1.0"
    assert wf.query_step(name="second")[0].outputs.parameters["version"].value == "2.0"
    assert wf.query_step(name="without")[0].outputs.parameters["importable"].value is False


def test_a_package_is_staged_in_the_step_directory(local):
    one = _mylib(local, "1.0")
    wf = Workflow("staged")
    wf.add(Step("first", PythonOPTemplate(version_of_mylib, python_packages=[one])))
    wf.submit()
    [step] = wf.query_step(name="first")
    staged = Path(step.workdir) / "inputs" / "artifacts" / "dflow_python_packages" / "0" / "mylib"
    assert (staged / "__init__.py").read_text() == "VERSION = '1.0'\n"


def test_a_scripts_tmp_is_its_own(local):
    """A script's ``/tmp`` is in its step's directory, as a pod's is its own: what one step leaves in
    ``/tmp`` the next does not see, and ``cd /tmp`` works with no path declared below it. A path below
    ``/tmp`` that names something on this machine (a file the submitting script made) stays the machine's."""
    import shutil
    import tempfile
    from pathlib import Path

    from dflow import OutputParameter, ShellOPTemplate, Step, Workflow

    made = tempfile.mkdtemp(prefix="dflow-host-", dir="/tmp")
    host = Path(made) / "made-before.txt"
    host.write_text("from the host")
    leave = ShellOPTemplate(name="leave", script="cd /tmp && echo left > dflow-left-behind.txt")
    look = ShellOPTemplate(name="look", script="test -e /tmp/dflow-left-behind.txt && echo seen > /tmp/r.txt "
                                                f"|| echo clean > /tmp/r.txt; cat {host} > /tmp/h.txt")
    look.outputs.parameters["r"] = OutputParameter(value_from_path="/tmp/r.txt")
    look.outputs.parameters["h"] = OutputParameter(value_from_path="/tmp/h.txt")
    wf = Workflow("own-tmp")
    wf.add(Step("leave", leave))
    wf.add(Step("look", look))
    try:
        wf.submit()
        assert wf.wait() == "Succeeded"
    finally:
        shutil.rmtree(made)
    out = wf.query_step(name="look")[0].outputs.parameters
    assert (out["r"].value, out["h"].value) == ("clean", "from the host")
    assert not os.path.exists("/tmp/dflow-left-behind.txt")


LEAN_SCRIPT = textwrap.dedent('''
    from dflow import Step, Workflow, config
    from dflow.python import OP, PythonOPTemplate

    config["mode"] = "debug"
    config["debug_workdir"] = {workdir!r}

    @OP.function
    def imported() -> {{"names": str}}:
        import sys
        return {{"names": ",".join(m for m in ("threading", "logging") if m in sys.modules) or "none"}}

    @OP.function
    def logs() -> {{"names": str}}:
        import logging
        logging.getLogger("mine").info("hello")
        return {{"names": "logging"}}

    wf = Workflow("lean")
    wf.add(Step("first", PythonOPTemplate(imported)))
    wf.add(Step("logs", PythonOPTemplate(logs)))
    wf.add(Step("after", PythonOPTemplate(imported)))
    wf.submit()
    print("RESULT", *(wf.query_step(name=n)[0].outputs.parameters["names"].value for n in ("first", "after")))
''')


def test_a_step_starts_without_threading_when_its_op_does_not_import_it(tmp_path):
    """Every attempt inherits what the fork server holds: the step runtime and the OPs' modules.
    ``threading`` (which ``logging`` imports) registers a handler that runs in every forked child,
    about a third of what forking an attempt costs; the runtime imports neither, so a step whose
    OP needs neither starts without them, also after a step that imported them."""
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "lean_script.py"
    script.write_text(LEAN_SCRIPT.format(workdir=str(work)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFLOW_") and k != "LOG_LEVEL"}
    out = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT none none" in out.stdout, out.stdout[-2000:]
