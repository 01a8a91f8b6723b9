"""User guide 3.1.16: steps as Slurm jobs on a virtual node (the wlm-operator's SlurmJob).

On Argo the executor renders each slice into a wlm-operator ``SlurmJob`` for the
virtual node ``node_selector`` names (``print(wf.to_yaml())`` with ``config["mode"] =
"default"`` shows it). On the local backend the same batch script goes to Slurm on
this machine with ``sbatch``, so the workflow runs on a laptop with Slurm::

    scripts/start-slurm.sh /tmp/slurm && python examples/hpc/test_wlm.py /tmp/slurm/slurm.json
"""

from typing import List

from cluster import cluster

from dflow import SlurmJobTemplate, Step, Workflow, argo_range, config
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate, Slices


class Hello(OP):
    def __init__(self):
        pass

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"filename": str})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"foo": Artifact(str)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        open(op_in["filename"], "w").write("foo")
        return OPIO({"foo": op_in["filename"]})


class Check(OP):
    def __init__(self):
        pass

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"foo": Artifact(List[str])})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"n": int})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        texts = [open(f).read() for f in op_in["foo"]]
        assert texts == ["foo", "foo"], texts
        return OPIO({"n": len(texts)})


if __name__ == "__main__":
    cluster()
    config["mode"] = "debug"
    wf = Workflow(name="wlm")
    hello = Step("hello",
                 PythonOPTemplate(Hello, image="python:3.8",
                                  slices=Slices("{{item}}", input_parameter=["filename"], output_artifact=["foo"])),
                 parameters={"filename": ["f1.txt", "f2.txt"]},
                 with_param=argo_range(2),
                 key="hello-{{item}}",
                 executor=SlurmJobTemplate(header="#!/bin/sh\n#SBATCH --nodes=1",
                                           node_selector={"kubernetes.io/hostname": "slurm-minikube-v100"}))
    wf.add(hello)
    check = Step("check", PythonOPTemplate(Check, image="python:3.8"), artifacts={"foo": hello.outputs.artifacts["foo"]})
    wf.add(check)
    wf.submit()

    assert wf.query_status() == "Succeeded", wf.query().message
    jobs = [s.record.launch["job"] for s in wf.query_step(key=["hello-0", "hello-1"])]
    print("Slurm jobs of the slices:", jobs)
    assert len(set(jobs)) == 2
    assert wf.query_step(name="check")[0].outputs.parameters["n"].value == 2
    print("ok: each slice ran as a Slurm job")
