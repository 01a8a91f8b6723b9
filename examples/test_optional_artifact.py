"""Spec 3.1.10 (Optional input artifacts): an input artifact marked optional
may be left out; the OP then receives None.
"""
from pathlib import Path

from dflow import Step, Workflow, config, upload_artifact
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate

config["mode"] = "debug"


class MaybeRead(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"foo": Artifact(Path, optional=True)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": str})

    @OP.exec_sign_check
    def execute(self, op_in):
        foo = op_in["foo"]
        return OPIO({"msg": "none" if foo is None else Path(foo).read_text()})


def main():
    Path("foo.txt").write_text("content")
    foo = upload_artifact("foo.txt")

    templ = PythonOPTemplate(MaybeRead)
    # the sign already says optional; the template-level switch of the spec works too
    templ.inputs.artifacts["foo"].optional = True
    assert templ.inputs.artifacts["foo"].optional

    wf = Workflow(name="optional")
    wf.add([Step("with", templ, artifacts={"foo": foo}), Step("without", templ)])
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    assert wf.query_step(name="with")[0].outputs.parameters["msg"].value == "content"
    assert wf.query_step(name="without")[0].outputs.parameters["msg"].value == "none"
    print("test_optional_artifact OK")


if __name__ == "__main__":
    main()
