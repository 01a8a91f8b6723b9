"""Spec 1.1.2 (OP template, ShellOPTemplate): a shell script with input and
output parameters and artifacts at /tmp paths, as in a container.

Where an input artifact lands, as in a container on a cluster: an upload keeps its
files' paths below the declared path (``upload_artifact("foo.txt")`` at
``/tmp/inputs/src`` is ``/tmp/inputs/src/foo.txt``); a step's output artifact that is
one file is that file at the declared path.
"""
from pathlib import Path

from dflow import (
    InputArtifact,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    ShellOPTemplate,
    Step,
    Workflow,
    config,
    download_artifact,
    upload_artifact,
)

config["mode"] = "debug"


def main():
    Path("foo.txt").write_text("Hello")
    foo = upload_artifact("foo.txt")

    def template(name, src):
        t = ShellOPTemplate(
            name=name,
            image="alpine:latest",
            script=f"cp {src} /tmp/bar.txt && echo ' {{{{inputs.parameters.msg}}}}' >> /tmp/bar.txt\n"
                   "echo {{inputs.parameters.msg}}{{inputs.parameters.msg}} > /tmp/msg.txt\n"
                   "mkdir -p /tmp/outdir && echo one > /tmp/outdir/1.txt && echo two > /tmp/outdir/2.txt\n",
        )
        t.inputs.parameters = {"msg": InputParameter()}
        t.outputs.parameters = {"msg": OutputParameter(value_from_path="/tmp/msg.txt")}
        t.outputs.artifacts = {"bar": OutputArtifact(path="/tmp/bar.txt"), "outdir": OutputArtifact(path="/tmp/outdir")}
        return t

    hello = template("hello", "/tmp/inputs/src/foo.txt")  # an upload: a folder with the uploaded file
    hello.inputs.artifacts = {"foo": InputArtifact(path="/tmp/inputs/src")}
    again = template("again", "/tmp/foo.txt")  # a step's one-file output: the file itself
    again.inputs.artifacts = {"foo": InputArtifact(path="/tmp/foo.txt")}

    step0 = Step("step0", hello, parameters={"msg": "hi"}, artifacts={"foo": foo})
    step1 = Step("step1", again, parameters={"msg": step0.outputs.parameters["msg"]},
                 artifacts={"foo": step0.outputs.artifacts["bar"]})
    wf = Workflow(name="shell")
    wf.add(step0)
    wf.add(step1)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    s0 = wf.query_step(name="step0")[0]
    assert s0.outputs.parameters["msg"].value == "hihi", s0.outputs.parameters["msg"].value
    s1 = wf.query_step(name="step1")[0]
    assert s1.outputs.parameters["msg"].value == "hihihihi", s1.outputs.parameters["msg"].value
    paths = download_artifact(s1.outputs.artifacts["bar"], path="result")
    assert Path(paths[0]).read_text() == "Hello hi\n hihi\n", repr(Path(paths[0]).read_text())
    download_artifact(s1.outputs.artifacts["outdir"], path="outdir-dl")
    files = sorted(p.name for p in Path("outdir-dl").rglob("*.txt"))
    assert files == ["1.txt", "2.txt"], files
    # nothing was written to the real /tmp paths of the script
    print("test_shell OK")


if __name__ == "__main__":
    main()
