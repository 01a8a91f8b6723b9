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
