"""Spec 1.1.2 (OP template, PythonScriptOPTemplate): a Python script with input
and output parameters and artifacts at /tmp paths, as in a container.

An uploaded file keeps its path (relative to where it was uploaded from) inside the
artifact: ``upload_artifact("data.txt")`` given to an input artifact at ``/tmp/inp``
appears as ``/tmp/inp/data.txt``, on every backend.
"""
from pathlib import Path

from dflow import (
    InputArtifact,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    PythonScriptOPTemplate,
    Step,
    Workflow,
    config,
    download_artifact,
    upload_artifact,
)

config["mode"] = "debug"

SCRIPT = """
import json
n = int("{{inputs.parameters.n}}")
with open("/tmp/inp/data.txt") as f:
    words = f.read().split()
with open("/tmp/outputs/count.txt", "w") as f:
    f.write(str(len(words) * n))
with open("/tmp/outputs/upper.txt", "w") as f:
    f.write(" ".join(w.upper() for w in words))
"""


def main():
    Path("data.txt").write_text("a b c")
    art = upload_artifact("data.txt")

    templ = PythonScriptOPTemplate(name="count", image="python:3.8", script=SCRIPT)
    templ.inputs.parameters = {"n": InputParameter(type=int)}
    templ.inputs.artifacts = {"inp": InputArtifact(path="/tmp/inp")}
    templ.outputs.parameters = {"count": OutputParameter(value_from_path="/tmp/outputs/count.txt", type=int)}
    templ.outputs.artifacts = {"upper": OutputArtifact(path="/tmp/outputs/upper.txt")}

    wf = Workflow(name="python-script")
    wf.add(Step("count", templ, parameters={"n": 2}, artifacts={"inp": art}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    s = wf.query_step(name="count")[0]
    assert s.outputs.parameters["count"].value == 6, s.outputs.parameters["count"].value
    paths = download_artifact(s.outputs.artifacts["upper"], path="result")
    assert Path(paths[0]).read_text() == "A B C", paths
    print("test_python_script OK")


if __name__ == "__main__":
    main()
