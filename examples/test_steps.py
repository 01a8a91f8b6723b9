"""Spec 3.1.3 (Steps): nested Steps with declared inputs/outputs, parallel
groups, ``value_from_parameter`` and ``_from`` for the outputs of a Steps.
"""
from pathlib import Path

from dflow import (
    InputArtifact,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    Step,
    Steps,
    Workflow,
    config,
    download_artifact,
    upload_artifact,
)
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate

config["mode"] = "debug"


class Duplicate(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "foo": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": str, "bar": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        text = Path(op_in["foo"]).read_text()
        Path("bar.txt").write_text(text * 2)
        return OPIO({"msg": op_in["msg"] * 2, "bar": Path("bar.txt")})


@OP.function
def concat(a: str, b: str) -> {"msg": str}:
    return {"msg": a + "+" + b}


def main():
    Path("foo.txt").write_text("x")
    foo = upload_artifact("foo.txt")

    # an inner Steps: [[dup0, dup1], [join]]
    inner = Steps(name="inner")
    inner.inputs.parameters["msg"] = InputParameter()
    inner.inputs.artifacts["foo"] = InputArtifact()
    inner.outputs.parameters["msg"] = OutputParameter()
    inner.outputs.artifacts["bar"] = OutputArtifact()
    dup0 = Step("dup0", PythonOPTemplate(Duplicate),
                parameters={"msg": inner.inputs.parameters["msg"]}, artifacts={"foo": inner.inputs.artifacts["foo"]})
    dup1 = Step("dup1", PythonOPTemplate(Duplicate),
                parameters={"msg": "y"}, artifacts={"foo": inner.inputs.artifacts["foo"]})
    inner.add([dup0, dup1])  # a parallel group
    join = Step("join", PythonOPTemplate(concat),
                parameters={"a": dup0.outputs.parameters["msg"], "b": dup1.outputs.parameters["msg"]})
    inner.add(join)
    inner.outputs.parameters["msg"].value_from_parameter = join.outputs.parameters["msg"]
    inner.outputs.artifacts["bar"]._from = dup0.outputs.artifacts["bar"]

    # use the Steps twice, as the template of bigger steps
    outer0 = Step("outer0", inner, parameters={"msg": "ab"}, artifacts={"foo": foo})
    outer1 = Step("outer1", inner, parameters={"msg": outer0.outputs.parameters["msg"]},
                  artifacts={"foo": outer0.outputs.artifacts["bar"]})
    wf = Workflow(name="steps")
    wf.add(outer0)
    wf.add(outer1)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    o0 = wf.query_step(name="outer0")[0]
    assert o0.type == "Steps", o0.type
    assert o0.outputs.parameters["msg"].value == "abab+yy", o0.outputs.parameters["msg"].value
    o1 = wf.query_step(name="outer1")[0]
    assert o1.outputs.parameters["msg"].value == "abab+yyabab+yy+yy", o1.outputs.parameters["msg"].value
    paths = download_artifact(o1.outputs.artifacts["bar"], path="result")
    assert Path(paths[0]).read_text() == "xxxx", paths

    # both parallel steps of each group ran: 2 x (dup0, dup1, join)
    assert len(wf.query_step(name="dup0")) == 2
    assert len(wf.query_step(name="dup1")) == 2
    assert len(wf.query_step(name="join")) == 2
    # dup0 and dup1 ran in the same group, before join
    for d0, j in zip(sorted(wf.query_step(name="dup0"), key=lambda s: s.startedAt),
                     sorted(wf.query_step(name="join"), key=lambda s: s.startedAt)):
        assert d0.record.finished_at <= j.record.started_at
    print("test_steps OK")


if __name__ == "__main__":
    main()
