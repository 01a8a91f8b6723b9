"""The local backend under hostile or careless input: pickles, escaping processes, colliding
directories, keys that look like state files, failing preparation, big parameters."""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dflow import Step, Workflow, argo_range, config
from dflow.python import OP, PythonOPTemplate, Slices


class _Planter:
    """Unpickling this runs code: it creates the file named by its argument."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (os.mknod, (self.path,))


@OP.function
def forge(marker: str) -> {"value": dict}:
    """An OP that returns a dict shaped like dflow's pickle wrapper (a hostile OP)."""
    blob = base64.b64encode(pickle.dumps(_Planter(marker))).decode()
    return {"value": {"__dflow_pickle__": blob}}


@OP.function
def receive(value: dict) -> {"keys": list}:
    return {"keys": sorted(value)}


@OP.function
def spawn_escapee(marker: str, seconds: float) -> {"pid": int}:
    """Starts a process in a session of its own, which a process-group kill does not reach."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    Path(marker).write_text(str(proc.pid))
    time.sleep(seconds)
    return {"pid": proc.pid}


@OP.function
def echo_n(n: int) -> {"n": int}:
    return {"n": n}


@OP.function
def crash_in_native_code(note: str) -> {"n": int}:
    """Prints a line, then dies of a segmentation fault in C (no Python exception to catch)."""
    import ctypes

    print(note)
    ctypes.string_at(0)
    return {"n": 0}


@OP.function
def take_big(blob: str, i: int) -> {"size": int}:
    return {"size": len(blob) + i}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


# ---------------------------------------------------------------- pickles


def test_a_value_shaped_like_a_pickle_is_never_unpickled(local):
    marker = local / "unpickled"
    wf = Workflow("pickles")
    f = Step("forge", PythonOPTemplate(forge), parameters={"marker": str(marker)})
    wf.add(f)
    wf.add(Step("receive", PythonOPTemplate(receive), parameters={"value": f.outputs.parameters["value"]}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert wf.query_step(name="receive")[0].outputs.parameters["keys"].value == ["__dflow_pickle__"]
    value = Workflow(id=wf.id).query_step(name="forge")[0].outputs.parameters["value"].value
    assert isinstance(value, dict) and set(value) == {"__dflow_pickle__"}
    assert not marker.exists(), "a value written as JSON was unpickled"


def test_a_real_pickled_value_reaches_an_op_that_asks_for_its_type(local):
    wf = Workflow("realpickle")
    wf.add(Step("s", PythonOPTemplate(receive_set), parameters={"value": {3, 1, 2}}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert wf.query_step(name="s")[0].outputs.parameters["items"].value == [1, 2, 3]


@OP.function
def receive_set(value: set) -> {"items": list}:
    return {"items": sorted(value)}


# ---------------------------------------------------------------- escaping processes


@pytest.mark.parametrize("how", ["ends", "times-out", "terminated"])
def test_a_process_that_left_the_steps_session_does_not_outlive_it(local, how):
    marker = local / "escapee.pid"
    seconds = {"ends": 0.0, "times-out": 60.0, "terminated": 600.0}[how]
    tmpl = PythonOPTemplate(spawn_escapee, timeout=2 if how == "times-out" else None)
    wf = Workflow("escape")
    wf.add(Step("s", tmpl, parameters={"marker": str(marker), "seconds": seconds}))
    if how == "terminated":
        config["detach"] = True
        wf.submit()
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        wf.terminate()
    else:
        wf.submit()
    pid = int(marker.read_text())
    assert _gone(pid), f"the escaped process {pid} outlived the step ({how})"
    assert wf.query_status() == ("Succeeded" if how == "ends" else "Failed")


# ---------------------------------------------------------------- directories and state files


def test_a_key_named_like_a_state_file_gets_a_directory_of_its_own(local):
    wf = Workflow("statekeys")
    for i, key in enumerate(["status", "workflow.json", "nodes.jsonl", "values"]):
        wf.add(Step(f"s{i}", PythonOPTemplate(echo_n), parameters={"n": i}, key=key))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    wfdir = local / wf.id
    assert (wfdir / "status").read_text() == "Succeeded"
    assert json.loads((wfdir / "workflow.json").read_text())["phase"] == "Succeeded"
    dirs = {s.key: s.workdir for s in wf.query_step(type="Pod")}
    assert len(set(dirs.values())) == 4 and all(d and not d.endswith(("/status", "/values")) for d in dirs.values())


def test_two_steps_with_the_same_literal_key_are_refused_before_the_run(local):
    from dflow.errors import ValidationError

    wf = Workflow("samekey")
    wf.add(Step("a", PythonOPTemplate(echo_n), parameters={"n": 1}, key="k"))
    wf.add(Step("b", PythonOPTemplate(echo_n), parameters={"n": 2}, key="k"))
    with pytest.raises(ValidationError, match="same key 'k'"):
        wf.submit()
    assert [p.name for p in local.iterdir()] == []


def test_resume_reuses_the_recorded_step_directories(local):
    """A resumed run must not give a re-run step the directory of a succeeded one (and delete its outputs)."""
    flag = local / "fail-once"
    flag.write_text("")
    wf = Workflow("resume-dirs")
    wf.add(Step("ok", PythonOPTemplate(echo_n), parameters={"n": 1}, key="step-{{workflow.name}}-a"))
    wf.add(Step("flaky", PythonOPTemplate(fail_if_file), parameters={"path": str(flag)},
                key="step-{{workflow.name}}-b"))
    wf.submit()
    assert wf.query_status() == "Failed"
    before = {s.name: s.workdir for s in wf.query_step()}
    ok_out = Path(before["ok"]) / "outputs" / "parameters" / "n"
    assert ok_out.read_text() == "1"
    flag.unlink()
    wf.resume()
    assert wf.query_status() == "Succeeded", wf.query().message
    after = {s.name: s.workdir for s in wf.query_step()}
    assert after == before
    assert ok_out.read_text() == "1"


@OP.function
def fail_if_file(path: str) -> {"ok": bool}:
    if os.path.exists(path):
        raise RuntimeError("the flag file is there")
    return {"ok": True}


def test_an_os_error_while_preparing_a_step_fails_that_step_not_the_driver(local, monkeypatch):
    from dflow_debug import staging

    def broken(self, tmpl, arts, sdir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(staging.Stager, "place_inputs", broken)
    wf = Workflow("oserror")
    wf.add(Step("a", PythonOPTemplate(echo_n), parameters={"n": 1}))
    wf.submit()
    rec = wf.query()
    assert rec.phase == "Failed" and "driver" not in (rec.message or "")
    [a] = wf.query_step(name="a")
    assert a.phase == "Failed" and "No space left on device" in a.message


# ---------------------------------------------------------------- growth


def test_a_big_parameter_is_recorded_once(local):
    """A 1 MB parameter given to 50 slices: nodes.jsonl grows with the steps, not with copies of the value."""
    blob = "x" * (1 << 20)
    wf = Workflow("growth")
    wf.add(Step("s", PythonOPTemplate(take_big, slices=Slices(input_parameter=["i"], output_parameter=["size"])),
                parameters={"blob": blob, "i": list(range(50))}, with_param=argo_range(50)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    nodes = local / wf.id / "nodes.jsonl"
    assert nodes.stat().st_size < 200_000, nodes.stat().st_size
    values = sum(p.stat().st_size for p in (local / wf.id / "values").iterdir())
    assert values < 2 * len(blob)
    again = Workflow(id=wf.id)
    group = again.query_step(name="s", type="StepGroup")[0]
    assert group.outputs.parameters["size"].value == [len(blob) + i for i in range(50)]
    pods = again.query_step(name="s", type="Pod")
    assert len(pods) == 50 and all(p.inputs.parameters["blob"].value == blob for p in pods)


def test_a_crash_in_native_code_leaves_its_python_stack_in_the_step_log(local):
    wf = Workflow("crash")
    wf.add(Step("dies", PythonOPTemplate(crash_in_native_code), parameters={"note": "printed before the crash"}))
    wf.submit()
    assert wf.query_status() == "Failed"
    [step] = wf.query_step(name="dies")
    log = Path(step.record.log_path).read_text()
    assert "printed before the crash" in log  # what the step printed first is in its log
    assert "Segmentation fault" in log and "crash_in_native_code" in log  # and so is the fault handler's dump
