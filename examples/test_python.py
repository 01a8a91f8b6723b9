"""Spec 1.1.2 (OP template): a class OP and a function OP run as PythonOPTemplate.

The class OP copies its input artifact ``foo`` to the output artifact ``bar``
and echoes ``msg``; the function OP does the same with type annotations.
Type checking runs before and after ``execute``.
"""
import shutil
from pathlib import Path

from dflow import Step, Workflow, config, download_artifact, upload_artifact
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate

config["mode"] = "debug"


class SimpleExample(OP):
    def __init__(self):
        pass

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "num": int, "foo": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": str, "num": int, "bar": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        shutil.copy(op_in["foo"], "bar.txt")
        with open("bar.txt", "a") as f:
            f.write(" class")
        return OPIO({"msg": op_in["msg"].upper(), "num": op_in["num"] * 2, "bar": Path("bar.txt")})


@OP.function
def simple_function(msg: str, num: int, foo: Artifact(Path)) -> {"msg": str, "num": int, "bar": Artifact(Path)}:
    shutil.copy(foo, "bar.txt")
    with open("bar.txt", "a") as f:
        f.write(" function")
    return {"msg": msg + "!", "num": num + 1, "bar": Path("bar.txt")}


@OP.function
def bad_output(x: int) -> {"y": int}:
    return {"y": "not an int"}


def main():
    with open("foo.txt", "w") as f:
        f.write("Hello")
    foo = upload_artifact("foo.txt")

    step0 = Step("step0", PythonOPTemplate(SimpleExample, image="python:3.8"),
                 parameters={"msg": "HelloWorld", "num": 3}, artifacts={"foo": foo})
    step1 = Step("step1", PythonOPTemplate(simple_function, image="python:3.8"),
                 parameters={"msg": step0.outputs.parameters["msg"], "num": step0.outputs.parameters["num"]},
                 artifacts={"foo": step0.outputs.artifacts["bar"]})
    wf = Workflow(name="python")
    wf.add(step0)
    wf.add(step1)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    s0 = wf.query_step(name="step0")[0]
    assert s0.phase == "Succeeded"
    assert s0.outputs.parameters["msg"].value == "HELLOWORLD"
    assert s0.outputs.parameters["num"].value == 6
    s1 = wf.query_step(name="step1")[0]
    assert s1.outputs.parameters["msg"].value == "HELLOWORLD!"
    assert s1.outputs.parameters["num"].value == 7
    assert isinstance(s1.outputs.parameters["num"].value, int)
    paths = download_artifact(s1.outputs.artifacts["bar"], path="result")
    assert len(paths) == 1, paths
    with open(paths[0]) as f:
        assert f.read() == "Hello class function"

    # type checking after execute: a str returned for an int output fails the step
    wf2 = Workflow(name="python-typecheck")
    wf2.add(Step("bad", PythonOPTemplate(bad_output), parameters={"x": 1}))
    wf2.submit()
    assert wf2.query_status() == "Failed", wf2.query_status()
    bad = wf2.query_step(name="bad")[0]
    assert bad.phase == "Failed"
    assert bad.message and "y" in bad.message, bad.message
    print("test_python OK")


if __name__ == "__main__":
    main()
