"""Regression tests of cause C16: a Python step must start from a clean process, as in its own pod.

One step changes process state (environment, imported modules, logging, an alarm,
umask, recursion limit, a signal handler); the steps after it report what they see.
On a cluster each step is a fresh container, so none of them may see the change.
"""

import json
import logging
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from dflow import Step, Workflow
from dflow.python import OP, PythonOPTemplate

_PROBES = 3  # several steps after the polluter, so that a pool of workers cannot hide a leak


@OP.function
def pollute() -> {"done": bool}:
    os.environ["COMPAT_LEAK"] = "1"
    sys.modules["compat_leak_module"] = type(sys)("compat_leak_module")
    leak = logging.NullHandler()
    leak.set_name("compat-leak")
    logging.getLogger().addHandler(leak)
    signal.alarm(600)
    os.umask(0o077)
    sys.setrecursionlimit(321)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    return {"done": True}


@OP.function
def probe() -> {"seen": str}:
    umask = os.umask(0o022)
    os.umask(umask)
    seen = {
        "env": "COMPAT_LEAK" in os.environ,
        "module": "compat_leak_module" in sys.modules,
        "handler": any(h.get_name() == "compat-leak" for h in logging.getLogger().handlers),
        "alarm": signal.alarm(0),
        "umask": umask,
        "recursion_limit": sys.getrecursionlimit(),
        "sigusr1_ignored": signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN,
    }
    return {"seen": json.dumps(seen)}


def _own_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    """What each probe saw after the polluter ran (one workflow for all the checks)."""
    from dflow import config

    where = tmp_path_factory.mktemp("isolation")
    saved = dict(config)
    cwd = os.getcwd()
    os.chdir(where)
    config.update(mode="debug", debug_workdir=str(where), detach=False)
    try:
        wf = Workflow(name="isolation")
        wf.add(Step(name="pollute", template=PythonOPTemplate(pollute)))
        for i in range(_PROBES):
            wf.add(Step(name=f"probe{i}", template=PythonOPTemplate(probe)))
        wf.submit()
        assert wf.query_status() == "Succeeded"
        return [json.loads(wf.query_step(name=f"probe{i}")[0].outputs.parameters["seen"].value)
                for i in range(_PROBES)]
    finally:
        os.chdir(cwd)
        config.clear()
        config.update(saved)


# what a step sees when nothing ran before it: the state of the process that submits
_CLEAN = {
    "env": lambda: False,
    "module": lambda: False,
    "handler": lambda: False,
    "alarm": lambda: 0,
    "umask": _own_umask,
    "recursion_limit": sys.getrecursionlimit,
    "sigusr1_ignored": lambda: signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN,
}


@pytest.mark.parametrize("what", sorted(_CLEAN))
def test_a_step_does_not_see_what_an_earlier_step_changed(seen, what):
    assert [s[what] for s in seen] == [_CLEAN[what]()] * _PROBES


def _package(root: Path, version: str) -> Path:
    pkg = root / version / "compat_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""\
        VERSION = "{version}"
    """))
    return pkg


@OP.function
def which_version() -> {"version": str}:
    try:
        import compat_pkg
    except ImportError:
        return {"version": "none"}
    return {"version": compat_pkg.VERSION}


def test_python_packages_are_seen_only_by_the_steps_that_ask(local_run):
    v1 = _package(local_run, "v1")
    v2 = _package(local_run, "v2")
    wf = Workflow(name="packages")
    wf.add(Step(name="first", template=PythonOPTemplate(which_version, python_packages=[str(v1)])))
    wf.add(Step(name="second", template=PythonOPTemplate(which_version, python_packages=[str(v2)])))
    wf.add(Step(name="none", template=PythonOPTemplate(which_version)))
    wf.submit()
    got = [wf.query_step(name=n)[0].outputs.parameters["version"].value for n in ("first", "second", "none")]
    assert got == ["v1", "v2", "none"]
