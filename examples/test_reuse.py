"""Spec 3.1.12/3.1.13 (Key of a step, Resubmit a workflow): reuse steps of a
finished workflow by key, after ``modify_output_parameter`` and
``modify_output_artifact``; reused steps are not run again.
"""
import os
from pathlib import Path

from dflow import Step, Workflow, config, download_artifact, upload_artifact
from dflow.python import OP, Artifact, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def plus(x: int, counter: str) -> {"y": int, "f": Artifact(Path)}:
    with open(counter, "a") as f:  # count real executions
        f.write("%d\n" % x)
    Path("f.txt").write_text("from run %d" % x)
    return {"y": x + 100, "f": Path("f.txt")}


@OP.function
def total(a: int, b: int, f: Artifact(Path)) -> {"s": int, "text": str}:
    return {"s": a + b, "text": Path(f).read_text()}


def build(counter):
    wf = Workflow(name="reuse")
    a = Step("a", PythonOPTemplate(plus), parameters={"x": 1, "counter": counter}, key="step-a")
    b = Step("b", PythonOPTemplate(plus), parameters={"x": 2, "counter": counter}, key="step-b")
    wf.add([a, b])
    wf.add(Step("sum", PythonOPTemplate(total),
                parameters={"a": a.outputs.parameters["y"], "b": b.outputs.parameters["y"]},
                artifacts={"f": a.outputs.artifacts["f"]}, key="sum"))
    return wf


def main():
    counter = os.path.abspath("counter.txt")
    wf = build(counter)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    assert wf.query_step(key="sum")[0].outputs.parameters["s"].value == 203
    assert sorted(Path(counter).read_text().split()) == ["1", "2"]

    step_a = wf.query_step(key="step-a")[0]
    step_b = wf.query_step(key="step-b")[0]
    assert len(wf.query_step(key="step-a")) == 1
    step_a.modify_output_parameter("y", 1000)
    Path("new.txt").write_text("modified")
    step_a.modify_output_artifact("f", upload_artifact("new.txt"))

    Path(counter).write_text("")
    wf2 = build(counter)
    wf2.submit(reuse_step=[step_a, step_b])
    assert wf2.query_status() == "Succeeded", wf2.query_status()
    assert Path(counter).read_text() == "", "reused steps ran again: %r" % Path(counter).read_text()
    s = wf2.query_step(key="sum")[0]
    assert s.outputs.parameters["s"].value == 1000 + 102, s.outputs.parameters["s"].value
    assert s.outputs.parameters["text"].value == "modified", s.outputs.parameters["text"].value
    ra = wf2.query_step(key="step-a")[0]
    assert ra.outputs.parameters["y"].value == 1000
    paths = download_artifact(ra.outputs.artifacts["f"], path="dl")
    assert Path(paths[0]).read_text() == "modified", paths
    print("test_reuse OK")


if __name__ == "__main__":
    main()
