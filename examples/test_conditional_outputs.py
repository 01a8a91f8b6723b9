"""Spec 3.1.5 (Conditional step, parameters and artifacts): ``when`` and
``if_expression`` for an output parameter and an output artifact of a Steps.
"""
from pathlib import Path

from dflow import (
    InputParameter,
    OutputArtifact,
    OutputParameter,
    Step,
    Steps,
    Workflow,
    config,
    download_artifact,
    if_expression,
)
from dflow.python import OP, Artifact, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def make(n: int) -> {"n": int, "f": Artifact(Path)}:
    Path("f.txt").write_text("made %d" % n)
    return {"n": n, "f": Path("f.txt")}


def build(threshold_value):
    steps = Steps(name="cond")
    steps.inputs.parameters["threshold"] = InputParameter(type=int)
    steps.outputs.parameters["msg"] = OutputParameter()
    steps.outputs.artifacts["res"] = OutputArtifact()
    small = Step("small", PythonOPTemplate(make), parameters={"n": 1})
    steps.add(small)
    big = Step("big", PythonOPTemplate(make), parameters={"n": 100},
               when="%s < %s" % (small.outputs.parameters["n"], steps.inputs.parameters["threshold"]))
    steps.add(big)
    cond = small.outputs.parameters["n"] < steps.inputs.parameters["threshold"]
    steps.outputs.parameters["msg"].value_from_expression = if_expression(
        _if=cond, _then=big.outputs.parameters["n"], _else=small.outputs.parameters["n"])
    steps.outputs.artifacts["res"].from_expression = if_expression(
        _if=cond, _then=big.outputs.artifacts["f"], _else=small.outputs.artifacts["f"])
    wf = Workflow(name="conditional")
    wf.add(Step("main", steps, parameters={"threshold": threshold_value}))
    return wf


def check(threshold, expected_n, big_phase):
    wf = build(threshold)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    assert wf.query_step(name="big")[0].phase == big_phase
    top = wf.query_step(name="main")[0]
    assert int(top.outputs.parameters["msg"].value) == expected_n, top.outputs.parameters["msg"].value
    d = "result-%d" % threshold
    paths = download_artifact(top.outputs.artifacts["res"], path=d)
    assert Path(paths[0]).read_text() == "made %d" % expected_n, paths


def main():
    check(10, 100, "Succeeded")   # 1 < 10: "big" runs and its outputs are taken
    check(0, 1, "Skipped")        # 1 < 0 is false: "big" is skipped, "small"'s outputs are taken
    print("test_conditional_outputs OK")


if __name__ == "__main__":
    main()
