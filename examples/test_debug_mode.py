"""Spec 3.1.19 (Debug mode): workflows run on this machine; each workflow gets
a directory in the current directory holding its status and one directory per
step (named by its key if any) with inputs, outputs, type, phase and, for a
Pod, its script, log and working directory.
"""
import os
from pathlib import Path

from dflow import Step, Workflow, config, upload_artifact
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate

config["mode"] = "debug"


class Python(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "num": int, "foo": Artifact(Path), "idir": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": str, "bar": Artifact(Path), "odir": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        print("running with", op_in["msg"])
        Path("bar.txt").write_text(Path(op_in["foo"]).read_text() + op_in["msg"])
        os.makedirs("odir", exist_ok=True)
        Path("odir/n.txt").write_text(str(op_in["num"]))
        return OPIO({"msg": op_in["msg"] * op_in["num"], "bar": Path("bar.txt"), "odir": Path("odir")})


def main():
    Path("foo.txt").write_text("foo:")
    os.makedirs("idir", exist_ok=True)
    Path("idir/x.txt").write_text("x")
    wf = Workflow(name="python")
    wf.add(Step("step", PythonOPTemplate(Python), parameters={"msg": "ab", "num": 2},
                artifacts={"foo": upload_artifact("foo.txt"), "idir": upload_artifact("idir")}, key="my-step"))
    wf.add(Step("unkeyed", PythonOPTemplate(Python), parameters={"msg": "c", "num": 1},
                artifacts={"foo": upload_artifact("foo.txt"), "idir": upload_artifact("idir")}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    wfdir = Path(wf.id)
    assert wfdir.is_dir(), "no workflow directory %s in the current directory" % wfdir
    assert (wfdir / "status").read_text().strip() == "Succeeded"
    sdir = wfdir / "my-step"  # named by the key
    assert sdir.is_dir(), sorted(os.listdir(wfdir))
    for rel in ("inputs/artifacts/foo", "inputs/artifacts/idir", "inputs/parameters/msg", "inputs/parameters/num",
                "outputs/artifacts/bar", "outputs/artifacts/odir", "outputs/parameters/msg",
                "log.txt", "phase", "script", "type", "workdir"):
        assert (sdir / rel).exists(), "missing %s in %s" % (rel, sdir)
    assert (sdir / "type").read_text().strip() == "Pod"
    assert (sdir / "phase").read_text().strip() == "Succeeded"
    assert (sdir / "inputs/parameters/msg").read_text() == "ab"
    assert (sdir / "inputs/parameters/num").read_text() == "2"
    assert (sdir / "outputs/parameters/msg").read_text() == "abab"
    assert "running with ab" in (sdir / "log.txt").read_text()
    assert list((sdir / "outputs/artifacts/bar").rglob("bar.txt"))[0].read_text() == "foo:ab"
    assert list((sdir / "outputs/artifacts/odir").rglob("n.txt"))[0].read_text() == "2"
    # a step without a key gets a directory named from its step name
    unkeyed = [d for d in os.listdir(wfdir) if d.startswith("unkeyed")]
    assert len(unkeyed) == 1, sorted(os.listdir(wfdir))
    assert (wfdir / unkeyed[0] / "outputs/parameters/msg").read_text() == "c"
    # the step directory is what query_step reports
    s = wf.query_step(key="my-step")[0]
    assert s.workdir and os.path.samefile(s.workdir, sdir), s.workdir
    print("test_debug_mode OK")


if __name__ == "__main__":
    main()
