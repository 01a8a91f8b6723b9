"""Spec 3.2.1 (Slices, subpath mode): ``Slices(sub_path=True)`` passes one
slice of the input artifacts to each parallel step; the artifacts are stored
without compression (``archive=None``); the parallelism is the list length.
"""
import os
from pathlib import Path
from typing import List

from dflow import Step, Workflow, config, download_artifact, upload_artifact
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate, Slices

config["mode"] = "debug"


class Produce(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"n": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"files": Artifact(List[Path], archive=None)})

    @OP.exec_sign_check
    def execute(self, op_in):
        files = []
        for i in range(op_in["n"]):
            p = Path("gen-%d.txt" % i)
            p.write_text("G%d" % i)
            files.append(p)
        return OPIO({"files": files})


class Consume(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "data": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"out": str, "seen": int, "log": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        data = Path(op_in["data"])
        # only this slice's file was passed in
        root = data.parent
        seen = len([p for p in Path(root).rglob("*.txt")])
        Path("log.txt").write_text(op_in["msg"] + data.read_text())
        return OPIO({"out": op_in["msg"] + data.read_text(), "seen": seen, "log": Path("log.txt")})


def main():
    os.makedirs("data", exist_ok=True)
    paths = []
    for i in range(3):
        Path("data/d%d.txt" % i).write_text("D%d" % i)
        paths.append("data/d%d.txt" % i)
    data = upload_artifact(paths, archive=None)

    templ = PythonOPTemplate(Consume, slices=Slices(sub_path=True, input_parameter=["msg"], input_artifact=["data"],
                                                    output_parameter=["out", "seen"], output_artifact=["log"],
                                                    create_dir=True))
    wf = Workflow(name="subpath-slices")
    uploaded = Step("uploaded", templ, parameters={"msg": ["a", "b", "c"]}, artifacts={"data": data})
    produce = Step("produce", PythonOPTemplate(Produce), parameters={"n": 2})
    wf.add([uploaded, produce])
    generated = Step("generated", templ, parameters={"msg": ["x", "y"]}, artifacts={"data": produce.outputs.artifacts["files"]})
    wf.add(generated)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    g = wf.query_step(name="uploaded", type="StepGroup")[0]
    assert len(wf.query_step(name=r"uploaded\(.*\)", type="Pod")) == 3
    assert g.outputs.parameters["out"].value == ["aD0", "bD1", "cD2"], g.outputs.parameters["out"].value
    assert g.outputs.parameters["seen"].value == [1, 1, 1], g.outputs.parameters["seen"].value
    logs = download_artifact(g.outputs.artifacts["log"], path="logs")
    assert [Path(p).read_text() for p in logs] == ["aD0", "bD1", "cD2"], logs

    g2 = wf.query_step(name="generated", type="StepGroup")[0]
    assert g2.outputs.parameters["out"].value == ["xG0", "yG1"], g2.outputs.parameters["out"].value
    assert g2.outputs.parameters["seen"].value == [1, 1], g2.outputs.parameters["seen"].value
    print("test_subpath_slices OK")


if __name__ == "__main__":
    main()
