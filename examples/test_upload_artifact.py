"""Spec 3.1.2 (Upload artifact): upload a path, a list of paths and a dict of
paths; the OP receives a path, a list or a dict; relative paths are kept.
"""
import os
from pathlib import Path
from typing import Dict, List

from dflow import Step, Workflow, config, download_artifact, upload_artifact
from dflow.python import OP, Artifact, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def inspect_artifacts(
    single: Artifact(Path), many: Artifact(List[Path]), named: Artifact(Dict[str, Path])
) -> {"single": str, "many": List[str], "named": Dict[str, str], "rels": List[str]}:
    rels = []
    for p in many:
        parts = Path(p).parts
        rels.append("/".join(parts[-2:]))
    return {
        "single": Path(single, "c.txt").read_text() if Path(single).is_dir() else Path(single).read_text(),
        "many": [Path(p).read_text() for p in many],
        "named": {k: Path(v).read_text() for k, v in named.items()},
        "rels": rels,
    }


def main():
    os.makedirs("data/sub", exist_ok=True)
    Path("data/a.txt").write_text("A")
    Path("data/sub/b.txt").write_text("B")
    os.makedirs("dir", exist_ok=True)
    Path("dir/c.txt").write_text("C")

    single = upload_artifact("dir")
    many = upload_artifact(["data/a.txt", "data/sub/b.txt"])
    named = upload_artifact({"x": "data/a.txt", "y": "data/sub/b.txt"})

    # relative paths with respect to the current directory are kept
    got = download_artifact(many, path="dl-many")
    assert [os.path.relpath(p, "dl-many") for p in got] == ["data/a.txt", os.path.join("data", "sub", "b.txt")], got
    assert Path("dl-many/data/sub/b.txt").read_text() == "B"
    got = download_artifact(single, path="dl-single")
    assert Path("dl-single/dir/c.txt").read_text() == "C", got
    # a dict upload downloads as the paths by key, as in dflow
    got = download_artifact(named, path="dl-named")
    assert sorted(got) == ["x", "y"] and Path(got["y"]).read_text() == "B", got

    wf = Workflow(name="upload")
    wf.add(Step("inspect", PythonOPTemplate(inspect_artifacts),
                artifacts={"single": single, "many": many, "named": named}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    out = wf.query_step(name="inspect")[0].outputs.parameters
    assert out["single"].value == "C", out["single"].value
    assert out["many"].value == ["A", "B"], out["many"].value
    assert out["named"].value == {"x": "A", "y": "B"}, out["named"].value
    assert out["rels"].value == ["data/a.txt", "sub/b.txt"], out["rels"].value
    print("test_upload_artifact OK")


if __name__ == "__main__":
    main()
