"""Slurm over SSH (SlurmRemoteExecutor): each slice is an ``sbatch`` job on the login host.

No helper binary: the executor logs in over SSH, copies the step, submits with
``sbatch``, watches ``squeue`` and brings the results back::

    scripts/start-slurm.sh /tmp/slurm && python examples/hpc/test_slurm.py /tmp/slurm/slurm.json
"""

from typing import List

from cluster import cluster

from dflow import SlurmRemoteExecutor, Step, Workflow, argo_range, config
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
        return OPIOSign()

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        for filename in op_in["foo"]:
            assert open(filename).read() == "foo"
        return OPIO()


if __name__ == "__main__":
    hpc = cluster()
    config["mode"] = "debug"
    slurm_remote_executor = SlurmRemoteExecutor(
        host=hpc["ssh_host"],
        port=hpc["ssh_port"],
        username=hpc["ssh_user"],
        private_key_file=hpc["ssh_key"],
        header=f"#!/bin/bash\n#SBATCH -N 1\n#SBATCH -n 1\n#SBATCH --partition={hpc['partition']}\n",
        workdir=hpc["remote_home"] + "/dflow/workflows/{{workflow.name}}/{{pod.name}}",
    )
    wf = Workflow("slurm-slices")
    hello = Step("hello",
                 PythonOPTemplate(Hello, slices=Slices("{{item}}", input_parameter=["filename"],
                                                       output_artifact=["foo"])),
                 parameters={"filename": ["f1.txt", "f2.txt"]}, with_param=argo_range(2),
                 executor=slurm_remote_executor)
    wf.add(hello)
    wf.add(Step("check", PythonOPTemplate(Check), artifacts={"foo": hello.outputs.artifacts["foo"]}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    print("ok: the slices ran as Slurm jobs over SSH")
