"""What a step prints reaches the console of the process that runs the workflow, as in dflow's debug mode.

dflow's tutorials print from their OPs (``This is iter 3``) and show it below the cell;
each step's output is also in its ``log.txt``. ``config["debug_echo_logs"] = False``
keeps the console quiet; a detached run has no console.
"""

from __future__ import annotations

from dflow import ShellOPTemplate, Step, Workflow, config
from dflow.python import OP, PythonOPTemplate


@OP.function
def Shout(word: str) -> {"word": str}:  # noqa: N802
    print("said-by-op:", word)
    return {"word": word}


def _run(name: str) -> Workflow:
    wf = Workflow(name)
    op = Step("op", PythonOPTemplate(Shout), parameters={"word": "hello"})
    sh = Step("sh", ShellOPTemplate(name="sh", script="echo said-by-script; echo to-stderr 1>&2"))
    wf.add([op, sh])
    wf.submit()
    assert wf.wait() == "Succeeded"
    return wf


def test_what_steps_print_is_printed_when_they_end(local, capfd):
    wf = _run("echo-on")
    out = capfd.readouterr().out
    assert "said-by-op: hello\n" in out and "said-by-script\n" in out and "to-stderr\n" in out, out
    for step, marker in (("op", "said-by-op: hello"), ("sh", "said-by-script")):  # (and in each step's log)
        (log,) = (local / wf.id).glob(f"{step}-*/log.txt")
        assert marker in log.read_text()


def test_the_console_stays_quiet_when_asked(local, capfd, monkeypatch):
    monkeypatch.setitem(config, "debug_echo_logs", False)
    _run("echo-off")
    out = capfd.readouterr().out
    assert "said-by" not in out, out


_SAYS_ID_FIRST = '''
import sys
from pathlib import Path
from dflow import Step, Workflow, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def console_so_far(path: str) -> {"text": str}:
    return {"text": Path(path).read_text()}


wf = Workflow("says-id")
wf.add(Step("look", PythonOPTemplate(console_so_far), parameters={"path": sys.argv[1]}))
wf.submit()
print("STEP SAW:", repr(wf.query_step(name="look")[0].outputs.parameters["text"].value))
print("ID:", wf.id)
'''


def test_an_attached_run_says_its_id_when_it_starts_and_once(local):
    """A long local run can be followed (``dflow watch ID``, the browser view) from its start: the id is
    printed before the first step runs, not when ``submit()`` returns at the end."""
    import subprocess
    import sys

    script, err = local / "says_id.py", local / "stderr.txt"
    script.write_text(_SAYS_ID_FIRST)
    with open(err, "w") as f:
        out = subprocess.run([sys.executable, str(script), str(err)], cwd=local, stdout=subprocess.PIPE, stderr=f,
                             text=True, check=True).stdout
    wf_id = out.splitlines()[-1].split("ID: ")[1]
    line = f"Workflow has been submitted (ID: {wf_id})"
    assert repr(line + "\n") in out  # the step read the console's stderr: the line was there already
    assert err.read_text().count("Workflow has been submitted") == 1
