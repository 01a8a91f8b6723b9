"""User guide 3.1.15: a step submitted to an HPC scheduler through the dispatcher plugin.

The step runs as a Slurm job on the cluster's login host (over SSH): its inputs go
there, the job runs the OP with dflow's step runtime on the cluster's python3, and the
outputs come back. Run it with a cluster description (see cluster.py)::

    scripts/start-slurm.sh /tmp/slurm && python examples/hpc/test_dispatcher.py /tmp/slurm/slurm.json
"""

from pathlib import Path
from typing import List

from cluster import cluster

from dflow import Step, Workflow, config, download_artifact, upload_artifact
from dflow.plugins.dispatcher import DispatcherExecutor
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate


class Duplicate(OP):
    def __init__(self):
        pass

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "num": int, "foo": Artifact(Path), "idir": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": List[str], "bar": Artifact(Path), "odir": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        op_out = OPIO({"msg": [op_in["msg"] * op_in["num"]], "bar": Path("output.txt"), "odir": Path("todir")})
        content = open(op_in["foo"]).read()
        open("output.txt", "w").write(content * op_in["num"])
        Path(op_out["odir"]).mkdir()
        for ii in ["f1", "f2"]:
            (op_out["odir"] / ii).write_text(op_in["num"] * (op_in["idir"] / ii).read_text())
        return op_out


if __name__ == "__main__":
    hpc = cluster()
    config["mode"] = "debug"
    Path("foo.txt").write_text("Hi")
    Path("tidir").mkdir(exist_ok=True)
    (Path("tidir") / "f1").write_text("foo")
    (Path("tidir") / "f2").write_text("bar")

    dispatcher_executor = DispatcherExecutor(
        host=hpc["ssh_host"],
        port=hpc["ssh_port"],
        username=hpc["ssh_user"],
        private_key_file=hpc["ssh_key"],
        queue_name=hpc["partition"],
        remote_root=f"{hpc['remote_home']}/dflow/workflows",
    )
    wf = Workflow(name="dispatcher")
    step = Step(name="step", template=PythonOPTemplate(Duplicate), parameters={"msg": "Hello", "num": 3},
                artifacts={"foo": upload_artifact("foo.txt"), "idir": upload_artifact("tidir")},
                executor=dispatcher_executor)
    wf.add(step)
    wf.submit()

    assert wf.query_status() == "Succeeded", wf.query().message
    step = wf.query_step(name="step")[0]
    print("Slurm job", step.record.launch["job"], "at", step.record.launch["where"])
    assert step.outputs.parameters["msg"].value == ["HelloHelloHello"]
    bar = download_artifact(step.outputs.artifacts["bar"], path="downloads")
    assert Path(bar[0]).read_text() == "HiHiHi"
    odir = download_artifact(step.outputs.artifacts["odir"], path="downloads")
    assert (Path(odir[0]) / "f1").read_text() == "foofoofoo"
    print("ok: the OP ran as a Slurm job and its outputs came back")
