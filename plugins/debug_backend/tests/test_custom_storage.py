"""The local backend with a custom storage client (``s3_config["storage_client"]``)."""

import os
from pathlib import Path
from typing import List

import pytest

from dflow import Step, Workflow, config, s3_config, upload_artifact
from dflow.python import OP, Artifact, PythonOPTemplate, Slices
from dflow.storage import LocalStorageClient


class CountingClient(LocalStorageClient):
    """A client with its own root, counting its calls in a file (the run is in another process)."""

    def __init__(self, root, log):
        super().__init__(root=root)
        self.log = log

    def _note(self, what):
        with open(self.log, "a") as f:
            f.write(what + "\n")

    def upload(self, key, path):
        self._note("upload")
        super().upload(key, path)

    def download(self, key, path):
        self._note("download")
        super().download(key, path)

    def list(self, prefix, recursive=False):
        self._note("list")
        return super().list(prefix, recursive)


@OP.function
def make(n: int) -> {"files": Artifact(List[Path], archive=None)}:
    out = []
    for i in range(n):
        p = Path(f"f{i}.txt")
        p.write_text(str(i * 10))
        out.append(p)
    return {"files": out}


@OP.function
def read(f: Artifact(Path)) -> {"t": str}:
    return {"t": Path(f).read_text()}


def test_sub_path_slices_over_a_step_output_in_custom_storage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    log = tmp_path / "calls"
    monkeypatch.setitem(s3_config, "storage_client", CountingClient(str(tmp_path / "store"), str(log)))
    wf = Workflow("sub")
    m = Step("make", PythonOPTemplate(make), parameters={"n": 3})
    r = Step("read", PythonOPTemplate(read, slices=Slices(sub_path=True, input_artifact=["f"], output_parameter=["t"])),
             artifacts={"f": m.outputs.artifacts["files"]})
    wf.add(m)
    wf.add(r)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert wf.query_step(name="read", type="StepGroup")[0].outputs.parameters["t"].value == ["0", "10", "20"]
    calls = log.read_text().split()
    assert "upload" in calls and "download" in calls
    assert any((tmp_path / "store" / wf.id).rglob("f1.txt")), "the outputs did not go to the custom storage"


class RemoteLike(CountingClient):
    """A client whose objects are not files on this machine for the engine: every artifact goes through
    ``list`` and ``download``, as with S3."""

    def local_path(self, key):
        return None


def _run_locally_with_a_remote_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    monkeypatch.setitem(s3_config, "storage_client", RemoteLike(str(tmp_path / "store"), str(tmp_path / "calls")))


@OP.function
def folder() -> {"out": Artifact(Path, archive=None)}:
    Path("out/sub").mkdir(parents=True)
    Path("out/a.txt").write_text("A")
    Path("out/sub/b.txt").write_text("B")
    return {"out": Path("out")}


@OP.function
def seen(x: Artifact(Path)) -> {"name": str, "files": List[str], "text": str}:
    p = Path(x)
    files = sorted(str(f.relative_to(p)) for f in p.rglob("*") if f.is_file() and ".dflow" not in f.parts)
    return {"name": p.name, "files": files, "text": p.read_text() if p.is_file() else ""}


@pytest.mark.parametrize("packed", [False, True], ids=["a-step-output", "a-packed-upload"])
def test_a_part_taken_with_sub_path_from_a_remote_store_is_placed_as_itself(tmp_path, monkeypatch, packed):
    """``.sub_path()`` of an artifact in a store that is not this disk: the step finds the file or the folder
    itself at the input's path (as Argo downloads a ``subPath``), from a step's output stored as many objects
    and from an upload stored as one tarball."""
    _run_locally_with_a_remote_store(tmp_path, monkeypatch)
    wf = Workflow("picked")
    if packed:
        (tmp_path / "out" / "sub").mkdir(parents=True)
        (tmp_path / "out" / "a.txt").write_text("A")
        (tmp_path / "out" / "sub" / "b.txt").write_text("B")
        art = upload_artifact(["out"])
        assert art.packed, "an upload to a remote store is one tarball"
    else:
        make = Step("make", PythonOPTemplate(folder))
        wf.add(make)
        art = make.outputs.artifacts["out"]
    steps = [Step(f"see-{n}", PythonOPTemplate(seen), artifacts={"x": art.sub_path(sub)})
             for n, sub in (("file", "out/a.txt"), ("dir", "out/sub"))]
    wf.add(steps)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    found = {n: {k: v.value for k, v in wf.query_step(name=f"see-{n}")[0].outputs.parameters.items()}
             for n in ("file", "dir")}
    assert found == {"file": {"name": "x", "files": [], "text": "A"}, "dir": {"name": "x", "files": ["b.txt"], "text": ""}}


def test_a_sub_path_the_remote_artifact_lacks_fails_the_step_naming_it(tmp_path, monkeypatch):
    _run_locally_with_a_remote_store(tmp_path, monkeypatch)
    wf = Workflow("picked-missing")
    make = Step("make", PythonOPTemplate(folder))
    wf.add(make)
    wf.add(Step("see", PythonOPTemplate(seen), artifacts={"x": make.outputs.artifacts["out"].sub_path("out/nothing")}))
    wf.submit()
    assert wf.query_status() == "Failed"
    assert "has no 'out/nothing' inside" in wf.query_step(name="see")[0].message


@pytest.mark.parametrize("store", ["this-disk", "remote"])
def test_download_artifact_of_a_part_downloads_that_part(tmp_path, monkeypatch, store):
    """``download_artifact(art.sub_path("out/a.txt"))`` downloads the part, as dflow narrows the artifact's key,
    from an upload on this disk and from one packed as a tarball in a remote store."""
    from dflow import download_artifact
    from dflow.storage import LocalStorageClient

    monkeypatch.chdir(tmp_path)
    client = LocalStorageClient(root=str(tmp_path / "store")) if store == "this-disk" else \
        RemoteLike(str(tmp_path / "store"), str(tmp_path / "calls"))
    monkeypatch.setitem(s3_config, "storage_client", client)
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "a.txt").write_text("A")
    (tmp_path / "out" / "sub" / "b.txt").write_text("B")
    art = upload_artifact(["out"])
    assert bool(getattr(art, "packed", None)) == (store == "remote")
    got = download_artifact(art.sub_path("out/a.txt"), path=tmp_path / "file")
    assert [os.path.relpath(p, tmp_path) for p in got] == ["file/a.txt"] and Path(got[0]).read_text() == "A"
    got = download_artifact(art.sub_path("out").sub_path("sub"), path=tmp_path / "dir")
    assert [os.path.relpath(p, tmp_path) for p in got] == ["dir/b.txt"]
    got = download_artifact(art.sub_path("out"), sub_path="sub/b.txt", path=tmp_path / "both")
    assert [os.path.relpath(p, tmp_path) for p in got] == ["both/b.txt"]


def test_download_artifact_of_a_part_of_a_step_output(tmp_path, monkeypatch):
    """``download_artifact(step.outputs.artifacts["out"].sub_path(...))`` after a run, from a remote store."""
    from dflow import download_artifact

    _run_locally_with_a_remote_store(tmp_path, monkeypatch)
    wf = Workflow("download-part")
    wf.add(Step("make", PythonOPTemplate(folder)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    out = wf.query_step(name="make")[0].outputs.artifacts["out"]
    got = download_artifact(out.sub_path("out").sub_path("a.txt"), path=tmp_path / "file")
    assert [os.path.relpath(p, tmp_path) for p in got] == ["file/a.txt"] and Path(got[0]).read_text() == "A"
    got = download_artifact(out.sub_path("out/sub"), path=tmp_path / "dir")
    assert [os.path.relpath(p, tmp_path) for p in got] == ["dir/b.txt"]
