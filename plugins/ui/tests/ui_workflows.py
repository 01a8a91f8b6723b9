"""Workflows the dflow-ui tests watch, submitted detached from a process of their own.

Run as ``python ui_workflows.py NAME [ARG...]`` with ``DFLOW_MODE=debug`` and
``DFLOW_DEBUG_WORKDIR`` set: it builds workflow NAME, submits it detached and prints
its id. The tests do not submit from their own process because the local backend
forks the run's driver from the submitting process, and the test process holds the
browser driver's pipes, which a forked driver would keep open.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Dict, List

from dflow import (
    DAG,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    ShellOPTemplate,
    Step,
    Steps,
    Task,
    Workflow,
    argo_range,
    config,
)
from dflow.python import PythonOPTemplate, Slices
from dflow.testing.ops import AddOne, FailIfOdd, Sleep, Square


def shell(name: str, script: str, inputs: List[str] = (), outputs: Dict[str, str] = None,
          artifacts: Dict[str, str] = None) -> ShellOPTemplate:
    t = ShellOPTemplate(name=name, image="alpine:latest", script=script)
    t.inputs.parameters = {k: InputParameter() for k in inputs}
    t.outputs.parameters = {k: OutputParameter(value_from_path=p) for k, p in (outputs or {}).items()}
    t.outputs.artifacts = {k: OutputArtifact(path=p) for k, p in (artifacts or {}).items()}
    return t


def gate(name: str) -> str:
    """Shell lines that wait until the test creates the file ``go-<name>`` in the work directory."""
    if not name:
        return ""
    path = os.path.join(os.environ["DFLOW_DEBUG_WORKDIR"], f"go-{name}")
    return f"while [ ! -f {path} ]; do sleep 0.1; done\n"


def chain(gated: str = "") -> Workflow:
    """Three steps one after another, about a second each: they turn green one by one.

    With ``gated``, the last step also waits for the test's go-file.
    """
    wf = Workflow("chain")
    for i in range(3):
        wait = gate(gated) if i == 2 else ""
        wf.add(Step(f"step-{i}", shell(f"wait-{i}", f"sleep 1.2\n{wait}echo step {i} done\n")))
    return wf


def logs(gated: str = "") -> Workflow:
    """A step that writes its log slowly, with markup and a secret in it, and has outputs.

    With ``gated``, it stops after line 3 until the test's go-file exists.
    """
    script = (
        "for i in 1 2 3; do echo \"line $i\"; sleep 0.7; done\n"
        + gate(gated)
        + "for i in 4 5 6; do echo \"line $i\"; sleep 0.7; done\n"
        "echo '<script>window.__pwned = 1</script><b>not bold</b>'\n"
        "echo \"the secret is $DFLOW_S3_SECRET_KEY\"\n"
        "python3 -c \"print('x' * 5000)\" > /tmp/long.txt\n"
        "echo 'a small file' > /tmp/one.txt\n"
        "mkdir -p /tmp/dir && echo one > /tmp/dir/1.txt && echo two > /tmp/dir/2.txt\n"
        "sleep 1\n"
    )
    t = shell("talk", script, outputs={"long": "/tmp/long.txt"},
              artifacts={"file": "/tmp/one.txt", "folder": "/tmp/dir"})
    wf = Workflow("logs")
    wf.add(Step("talk", t))
    return wf


def sleepy() -> Workflow:
    """Two long steps in parallel (a shell ``sleep`` and a Python OP): terminate stops both."""
    marker = os.path.join(os.environ["DFLOW_DEBUG_WORKDIR"], "sleep-marker")
    wf = Workflow("sleepy")
    wf.add([Step("shell-sleep", shell("sleeper", "echo sleeping\nsleep 3000\n")),
            Step("python-sleep", PythonOPTemplate(Sleep), parameters={"seconds": 3000, "marker": marker})])
    return wf


def odd(n: int = 40) -> Workflow:
    """A fan-out over ``n`` slices where the odd ones fail: the run fails and says which and why."""
    wf = Workflow("odd")
    wf.add(Step("check", PythonOPTemplate(FailIfOdd, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                parameters={"x": list(range(n))}, with_param=argo_range(n)))
    return wf


def fanout(n: int = 200) -> Workflow:
    """A fan-out over ``n`` quick slices."""
    wf = Workflow("fanout")
    wf.add(Step("sq", PythonOPTemplate(Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                parameters={"x": list(range(n))}, with_param=argo_range(n)))
    return wf


def keyed() -> Workflow:
    """Two keyed steps and a failing last one: a resubmission reuses the keyed ones."""
    wf = Workflow("keyed")
    a = Step("a", PythonOPTemplate(AddOne), parameters={"n": 1}, key="add-a")
    b = Step("b", PythonOPTemplate(AddOne), parameters={"n": a.outputs.parameters["n"]}, key="add-b")
    wf.add(a)
    wf.add(b)
    return wf


def flaky() -> Workflow:
    """A step that fails the first time only (it leaves a flag file): a retry succeeds."""
    flag = os.path.join(os.environ["DFLOW_DEBUG_WORKDIR"], "flaky-flag")
    wf = Workflow("flaky")
    wf.add(Step("first", shell("ok", "echo fine\n")))
    wf.add(Step("second", shell("once", f"if [ -f {flag} ]; then echo second time lucky; exit 0; fi\n"
                                        f"touch {flag}\necho 'failing on purpose' >&2\nexit 1\n")))
    return wf


def showcase() -> Workflow:
    """The run of the README's screenshot: a prepare step, a fan-out, a DAG and a summary."""
    wf = Workflow("campaign")
    prep = Step("prepare", shell("prepare", "echo preparing inputs\nsleep 0.5\necho 42 > /tmp/n.txt\n",
                                 outputs={"n": "/tmp/n.txt"}))
    sweep = Step("sweep", PythonOPTemplate(Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                 parameters={"x": list(range(64))}, with_param=argo_range(64))
    dag = DAG("analyse")
    load = Task("load", PythonOPTemplate(AddOne), parameters={"n": 1})
    fit = Task("fit", PythonOPTemplate(AddOne), parameters={"n": load.outputs.parameters["n"]})
    plot = Task("plot", PythonOPTemplate(AddOne), parameters={"n": load.outputs.parameters["n"]})
    report = Task("report", PythonOPTemplate(AddOne), parameters={"n": fit.outputs.parameters["n"]},
                  dependencies=[plot])
    for t in (load, fit, plot, report):
        dag.add(t)
    inner = Steps("refine")
    inner.add(Step("relax", shell("relax", "for i in 1 2 3; do echo relax $i; sleep 0.3; done\n")))
    wf.add(prep)
    wf.add([sweep, Step("refine", inner)])
    wf.add(Step("analyse", dag))
    wf.add(Step("summary", shell("summary", "echo all done\n"), key="summary"))
    return wf


BUILDERS: Dict[str, Callable[[], Workflow]] = {
    "chain": chain, "logs": logs, "sleepy": sleepy, "odd": odd, "fanout": fanout, "keyed": keyed,
    "flaky": flaky, "showcase": showcase,
}


def main(argv: List[str]) -> int:
    config["mode"] = "debug"
    config["detach"] = True
    wf = BUILDERS[argv[0]](*argv[1:])
    wf.submit(detach=True)
    print(wf.id, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
