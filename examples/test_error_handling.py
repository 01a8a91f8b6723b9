"""Spec 3.2.2 (Retry and error handling): ``TransientError`` is retried up to
``retry_on_transient_error`` times; ``FatalError`` fails at once; with
``timeout_as_transient_error`` a timeout is retried like a transient error.
"""
import os
import time
from pathlib import Path

from dflow import Step, Workflow, config
from dflow.python import OP, FatalError, PythonOPTemplate, TransientError

config["mode"] = "debug"


@OP.function
def flaky(counter: str, fail_times: int) -> {"attempts": int}:
    n = (len(Path(counter).read_text().split()) if os.path.exists(counter) else 0) + 1
    with open(counter, "a") as f:
        f.write("x\n")
    if n <= fail_times:
        raise TransientError("attempt %d: not yet" % n)
    return {"attempts": n}


@OP.function
def fatal(counter: str) -> {"x": int}:
    with open(counter, "a") as f:
        f.write("x\n")
    raise FatalError("cannot go on")


@OP.function
def slow_once(counter: str) -> {"attempts": int}:
    n = (len(Path(counter).read_text().split()) if os.path.exists(counter) else 0) + 1
    with open(counter, "a") as f:
        f.write("x\n")
    if n == 1:
        time.sleep(30)  # the first attempt times out
    return {"attempts": n}


def count(path):
    return len(Path(path).read_text().split()) if os.path.exists(path) else 0


def main():
    c = {k: os.path.abspath(k + ".count") for k in ("ok", "exhausted", "fatal", "timeout", "timeout-fatal")}
    wf = Workflow(name="retry")
    wf.add([
        Step("ok", PythonOPTemplate(flaky, retry_on_transient_error=3), parameters={"counter": c["ok"], "fail_times": 2}),
        Step("exhausted", PythonOPTemplate(flaky, retry_on_transient_error=1),
             parameters={"counter": c["exhausted"], "fail_times": 5}, continue_on_failed=True),
        Step("fatal", PythonOPTemplate(fatal, retry_on_transient_error=3), parameters={"counter": c["fatal"]},
             continue_on_failed=True),
        Step("timeout", PythonOPTemplate(slow_once, timeout=2, retry_on_transient_error=1,
                                         timeout_as_transient_error=True),
             parameters={"counter": c["timeout"]}),
        Step("timeout-fatal", PythonOPTemplate(slow_once, timeout=2, retry_on_transient_error=1),
             parameters={"counter": c["timeout-fatal"]}, continue_on_failed=True),
    ])
    t0 = time.time()
    wf.submit()
    assert time.time() - t0 < 20, "timeouts were not enforced"
    assert wf.query_status() == "Succeeded", wf.query_status()

    ok = wf.query_step(name="ok")[0]
    assert ok.phase == "Succeeded" and ok.outputs.parameters["attempts"].value == 3
    assert count(c["ok"]) == 3

    ex = wf.query_step(name="exhausted")[0]
    assert ex.phase == "Failed", ex.phase
    assert count(c["exhausted"]) == 2, count(c["exhausted"])  # 1 try + 1 retry
    assert "TransientError" in (ex.message or ""), ex.message

    fa = wf.query_step(name="fatal")[0]
    assert fa.phase == "Failed"
    assert count(c["fatal"]) == 1, "a FatalError must not be retried"
    assert "FatalError" in (fa.message or "") or "cannot go on" in (fa.message or ""), fa.message

    to = wf.query_step(name="timeout")[0]
    assert to.phase == "Succeeded", (to.phase, to.message)
    assert to.outputs.parameters["attempts"].value == 2
    tf = wf.query_step(name="timeout-fatal")[0]
    assert tf.phase in ("Failed", "Error"), tf.phase
    assert count(c["timeout-fatal"]) == 1, "a timeout is fatal by default"
    print("test_error_handling OK")


if __name__ == "__main__":
    main()
