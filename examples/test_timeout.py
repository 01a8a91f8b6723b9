"""Spec 3.1.7 (Timeout): ``Step(..., timeout=t)`` fails a step that runs longer
than t seconds; a step within its timeout succeeds.
"""
import time

from dflow import Step, Workflow, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def sleep(seconds: float) -> {"done": bool}:
    time.sleep(seconds)
    return {"done": True}


def main():
    wf = Workflow(name="timeout")
    fast = Step("fast", PythonOPTemplate(sleep), parameters={"seconds": 0.1}, timeout=10)
    slow = Step("slow", PythonOPTemplate(sleep), parameters={"seconds": 30}, timeout=1)
    wf.add([fast, slow])
    t0 = time.time()
    wf.submit()
    elapsed = time.time() - t0
    assert elapsed < 15, "the slow step was not stopped by its timeout (%.1fs)" % elapsed
    assert wf.query_status() == "Failed", wf.query_status()
    f = wf.query_step(name="fast")[0]
    assert f.phase == "Succeeded" and f.outputs.parameters["done"].value is True
    s = wf.query_step(name="slow")[0]
    assert s.phase in ("Failed", "Error"), s.phase
    assert "timed out" in (s.message or "").lower() or "timeout" in (s.message or "").lower(), s.message
    print("test_timeout OK")


if __name__ == "__main__":
    main()
