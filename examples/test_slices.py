"""Spec 3.2.1 (Slices): slice input parameters and artifacts over parallel
steps and stack output parameters and artifacts; ``create_dir``,
``group_size`` and ``pool_size``.
"""
import os
import time
from pathlib import Path

from dflow import Step, Workflow, argo_range, config, download_artifact, upload_artifact
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate, Slices

config["mode"] = "debug"


class Process(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "data": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"out": str, "log": Artifact(Path), "pid": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        text = Path(op_in["data"]).read_text()
        # long enough that a pool of two processes shares the work instead of one taking both
        time.sleep(0.3)
        Path("log.txt").write_text("%s:%s" % (op_in["msg"], text))
        return OPIO({"out": op_in["msg"] + text, "log": Path("log.txt"), "pid": os.getpid()})


def files_in(d):
    return sorted(str(p.relative_to(d)) for p in Path(d).rglob("*.txt"))


def main():
    os.makedirs("data", exist_ok=True)
    names = []
    for i in range(4):
        Path("data/d%d.txt" % i).write_text("D%d" % i)
        names.append("data/d%d.txt" % i)
    data = upload_artifact(names)
    msgs = ["a", "b", "c", "d"]

    def step(name, **kw):
        return Step(name, PythonOPTemplate(Process, slices=Slices(
            input_parameter=["msg"], input_artifact=["data"],
            output_parameter=["out", "pid"], output_artifact=["log"], **kw)),
            parameters={"msg": msgs}, artifacts={"data": data}, with_param=argo_range(4))

    wf = Workflow(name="slices")
    wf.add([step("plain"), step("separate", create_dir=True)])
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    plain = wf.query_step(name="plain", type="StepGroup")[0]
    assert plain.outputs.parameters["out"].value == ["aD0", "bD1", "cD2", "dD3"], plain.outputs.parameters["out"].value
    assert len(wf.query_step(name=r"plain\(.*\)", type="Pod")) == 4
    # merged output artifact: every slice wrote log.txt, so paths may clash (the spec allows overwriting)
    logs = download_artifact(plain.outputs.artifacts["log"], path="plain")
    assert logs and all(Path(p).read_text() in ("a:D0", "b:D1", "c:D2", "d:D3") for p in logs), logs

    sep = wf.query_step(name="separate", type="StepGroup")[0]
    logs = download_artifact(sep.outputs.artifacts["log"], path="separate")
    # create_dir: one directory per slice, in slice order
    assert [Path(p).read_text() for p in logs] == ["a:D0", "b:D1", "c:D2", "d:D3"], logs
    assert len({os.path.dirname(p) for p in logs}) == 4, logs

    # group_size: 2 slices per pod; pool_size: each pod runs its slices in 2 processes
    wf2 = Workflow(name="slices-group")
    wf2.add(step("grouped", group_size=2, pool_size=2, create_dir=True))
    wf2.submit()
    assert wf2.query_status() == "Succeeded", wf2.query_status()
    pods = wf2.query_step(name=r"grouped\(.*\)", type="Pod")
    assert len(pods) == 2, "group_size=2 over 4 slices should give 2 pods, got %d" % len(pods)
    g = wf2.query_step(name="grouped", type="StepGroup")[0]
    assert g.outputs.parameters["out"].value == ["aD0", "bD1", "cD2", "dD3"], g.outputs.parameters["out"].value
    pids = g.outputs.parameters["pid"].value
    assert len(set(pids)) >= 2 and len(set(pids[:2])) == 2, "pool_size=2 did not use a pool of processes: %s" % pids
    logs = download_artifact(g.outputs.artifacts["log"], path="grouped")
    assert [Path(p).read_text() for p in logs] == ["a:D0", "b:D1", "c:D2", "d:D3"], logs
    print("test_slices OK")


if __name__ == "__main__":
    main()
