"""Spec 3.1.1 (Workflow management): wf.id, query_status, query_step by name
(regex), key, phase and type, output parameter values and download_artifact.
"""
import os
from pathlib import Path

from dflow import Step, Workflow, config, download_artifact
from dflow.python import OP, Artifact, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def produce(msg: str) -> {"msg": str, "bar": Artifact(Path)}:
    Path("bar.txt").write_text(msg * 2)
    return {"msg": msg.upper(), "bar": Path("bar.txt")}


@OP.function
def fail(msg: str) -> {"msg": str}:
    raise RuntimeError("boom")


def main():
    wf = Workflow(name="management")
    a = Step("produce-a", PythonOPTemplate(produce), parameters={"msg": "a"}, key="prod-a")
    b = Step("produce-b", PythonOPTemplate(produce), parameters={"msg": "b"}, key="prod-b")
    c = Step("other", PythonOPTemplate(fail), parameters={"msg": "c"}, continue_on_failed=True)
    wf.add([a, b])
    wf.add(c)
    wf.submit()
    assert wf.id and wf.id.startswith("management"), wf.id
    assert wf.query_status() == "Succeeded", wf.query_status()

    # by name, as a regex
    prods = wf.query_step(name="produce-.*")
    assert sorted(s.displayName for s in prods) == ["produce-a", "produce-b"], prods
    assert len(wf.query_step(name="produce-a")) == 1
    # by key
    sa = wf.query_step(key="prod-a")
    assert len(sa) == 1 and sa[0].displayName == "produce-a"
    # by phase
    failed = wf.query_step(phase="Failed")
    assert [s.displayName for s in failed] == ["other"], failed
    assert {s.displayName for s in wf.query_step(phase="Succeeded", type="Pod")} == {"produce-a", "produce-b"}
    # by type
    pods = wf.query_step(type="Pod")
    assert {s.displayName for s in pods} == {"produce-a", "produce-b", "other"}, pods
    assert all(s.type == "Pod" for s in pods)
    # by id
    assert wf.query_step(id=sa[0].id)[0].displayName == "produce-a"

    step = sa[0]
    assert step.phase == "Succeeded"
    assert step.outputs.parameters["msg"].value == "A"
    paths = download_artifact(step.outputs.artifacts["bar"], path="download")
    assert [os.path.basename(p) for p in paths] == ["bar.txt"], paths
    assert Path(paths[0]).read_text() == "aa"

    # retrieve the history workflow by its id
    wf2 = Workflow(id=wf.id)
    assert wf2.query_status() == "Succeeded"
    assert wf2.query_step(key="prod-b")[0].outputs.parameters["msg"].value == "B"
    print("test_workflow_management OK")


if __name__ == "__main__":
    main()
