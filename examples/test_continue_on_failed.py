"""Spec 3.1.8 (Continue on failed): ``Step(..., continue_on_failed=True)`` lets
the workflow go on after the step fails; without it the workflow fails.
"""
from dflow import Step, Workflow, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def divide(a: int, b: int) -> {"q": int}:
    return {"q": a // b}


def main():
    wf = Workflow(name="continue")
    bad = Step("bad", PythonOPTemplate(divide), parameters={"a": 1, "b": 0}, continue_on_failed=True)
    wf.add(bad)
    after = Step("after", PythonOPTemplate(divide), parameters={"a": 6, "b": 3})
    wf.add(after)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    assert wf.query_step(name="bad")[0].phase == "Failed"
    assert "ZeroDivisionError" in (wf.query_step(name="bad")[0].message or ""), wf.query_step(name="bad")[0].message
    assert wf.query_step(name="after")[0].outputs.parameters["q"].value == 2

    wf2 = Workflow(name="stop")
    wf2.add(Step("bad", PythonOPTemplate(divide), parameters={"a": 1, "b": 0}))
    wf2.add(Step("after", PythonOPTemplate(divide), parameters={"a": 6, "b": 3}))
    wf2.submit()
    assert wf2.query_status() == "Failed", wf2.query_status()
    assert wf2.query_step(name="after") == [] or wf2.query_step(name="after")[0].phase != "Succeeded"
    print("test_continue_on_failed OK")


if __name__ == "__main__":
    main()
