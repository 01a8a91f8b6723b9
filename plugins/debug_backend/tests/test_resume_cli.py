"""Resuming, from the command line, a run whose OPs live in the submitting script."""

import json
import os
import signal
import subprocess
import sys
import time

SCRIPT = '''
import os, time
from pathlib import Path
from dflow import Workflow, Step, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"

@OP.function
def record(tag: str, log: str) -> {"tag": str}:
    with open(log, "a") as f:
        f.write(tag + "\\n")
    return {"tag": tag}

@OP.function
def wait_for(gate: str) -> {"ok": bool}:
    while not os.path.exists(gate):
        time.sleep(0.05)
    return {"ok": True}

# no __main__ guard on purpose: the whole script is what users often write
wf = Workflow("cli-resume")
wf.add(Step("a", PythonOPTemplate(record), parameters={"tag": "a", "log": LOG}))
wf.add(Step("w", PythonOPTemplate(wait_for), parameters={"gate": GATE}))
wf.add(Step("b", PythonOPTemplate(record), parameters={"tag": "b", "log": LOG}))
config["detach"] = True
wf.submit()
print(wf.id, flush=True)
'''


def _submitted(tmp_path, text):
    """Run a script that submits a detached run under ``tmp_path``; its id, and the environment of the CLI."""
    script = tmp_path / "run.py"
    script.write_text(text)
    env = {**os.environ, "DFLOW_MODE": "debug", "DFLOW_DEBUG_WORKDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[0], env


def test_resume_from_the_cli_rebuilds_script_defined_ops(tmp_path):
    log, gate = tmp_path / "log", tmp_path / "gate"
    wf_id, env = _submitted(tmp_path, SCRIPT.replace("LOG", repr(str(log))).replace("GATE", repr(str(gate))))
    rec_path = tmp_path / wf_id / "workflow.json"
    deadline = time.time() + 30
    while time.time() < deadline and not (log.exists() and log.read_text() == "a\n"):
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(json.loads(rec_path.read_text())["driver_pid"], signal.SIGKILL)
    gate.write_text("go")
    # a different program (the CLI) resumes it: the OPs come back from the script's source
    cli = [sys.executable, "-m", "dflow.cli", "resume", wf_id]
    out = subprocess.run(cli, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("Succeeded"), out.stdout + out.stderr
    assert log.read_text().split() == ["a", "b"]
    # the script's top-level submit() did not run again while the OPs were rebuilt
    assert [d for d in os.listdir(tmp_path) if d.startswith("cli-resume-")] == [wf_id]
    # the run has ended: terminating it is refused in Argo's words, and it stays Succeeded
    out = subprocess.run([sys.executable, "-m", "dflow.cli", "terminate", wf_id], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 1 and "cannot shutdown a completed workflow" in out.stderr, out.stderr
    assert json.loads(rec_path.read_text())["phase"] == "Succeeded"


def test_resubmit_a_workflow_loaded_by_id_reusing_steps(tmp_path, monkeypatch):
    from dflow import Step, Workflow, config
    from dflow.python import PythonOPTemplate
    from dflow.testing import ops

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    log = tmp_path / "ran"
    wf = Workflow("again")
    a = Step("a", PythonOPTemplate(ops.Record), parameters={"log": str(log), "tag": "a"}, key="key-a")
    wf.add(a)
    wf.add(Step("b", PythonOPTemplate(ops.Record), parameters={"log": str(log), "tag": a.outputs.parameters["tag"]}))
    wf.submit()
    loaded = Workflow(id=wf.id)
    again = loaded.resubmit(reuse_step=loaded.query_step(key="key-a"))
    assert again.id != wf.id and again.query_status() == "Succeeded"
    # first run: a and b; the resubmission: only b (a is reused)
    assert log.read_text().split() == ["a", "a", "a"]
    assert again.query_step(key="key-a")[0].record.message == "reused"


STOP_SCRIPT = '''
from dflow import Workflow, Step, config
from dflow.python import PythonOPTemplate
from dflow.testing import ops

config["mode"] = "debug"
bye = PythonOPTemplate(ops.Record)
bye.inputs.parameters["log"].value = LOG
bye.inputs.parameters["tag"].value = "exit handler: {{workflow.status}}"
wf = Workflow("cli-stop", on_exit=bye)
wf.add(Step("w", PythonOPTemplate(ops.Sleep), parameters={"seconds": 120, "marker": MARKER}))
wf.add(Step("never", PythonOPTemplate(ops.Record), parameters={"log": LOG, "tag": "never"}))
config["detach"] = True
wf.submit()
print(wf.id, flush=True)
'''


def test_stop_from_the_cli_ends_the_steps_then_runs_the_exit_handler(tmp_path):
    """``dflow stop ID`` (as the original's command): the running step ends, nothing new starts, and the
    workflow's exit handler runs, seeing the run Failed."""
    log, marker = tmp_path / "log", tmp_path / "marker"
    wf_id, env = _submitted(tmp_path, STOP_SCRIPT.replace("LOG", repr(str(log))).replace("MARKER", repr(str(marker))))
    deadline = time.time() + 30
    while time.time() < deadline and not marker.exists():
        time.sleep(0.05)
    out = subprocess.run([sys.executable, "-m", "dflow.cli", "stop", wf_id], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0 and f"stopping {wf_id}" in out.stdout, out.stderr
    rec_path = tmp_path / wf_id / "workflow.json"
    deadline = time.time() + 60
    while time.time() < deadline and json.loads(rec_path.read_text()).get("phase") not in ("Succeeded", "Failed", "Error"):
        time.sleep(0.1)
    assert json.loads(rec_path.read_text())["phase"] == "Failed"
    assert log.read_text().split("\n") == ["exit handler: Failed", ""]
