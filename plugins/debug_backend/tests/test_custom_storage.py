"""The local backend with a custom storage client (``s3_config["storage_client"]``)."""

from pathlib import Path
from typing import List

from dflow import Step, Workflow, config, s3_config
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
