"""The local backend keeping its artifacts in a real S3 (RGW started by the tests).

Uploads, step inputs and outputs, and downloads all go through ``S3StorageClient``;
nothing of the run's artifacts is only on the local disk, and no credential is
written into any file of the workflow's directory.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from dflow import Step, Workflow, argo_range, config, download_artifact, s3_config, upload_artifact
from dflow.python import PythonOPTemplate, Slices
from dflow.testing import ops

pytestmark = pytest.mark.needs_rgw
pytest.importorskip("dflow_debug", reason="these tests run workflows on the local backend (pip install dflow-debug)")


@pytest.fixture
def on_s3(s3_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    bucket = f"dflow-local-{uuid.uuid4().hex[:8]}"
    for k, v in (("endpoint", s3_server["endpoint"]), ("access_key", s3_server["access_key"]),
                 ("secret_key", s3_server["secret_key"]), ("secure", bool(s3_server["secure"])),
                 ("bucket_name", bucket), ("storage_type", "s3"), ("storage_client", None)):
        monkeypatch.setitem(s3_config, k, v)
    from dflow.artifact import get_storage_client

    return get_storage_client()


@pytest.mark.parametrize("archive", ["tar", None])
def test_upload_and_download_in_both_archive_modes(on_s3, tmp_path, archive):
    Path("data").mkdir()
    Path("data/a.txt").write_text("A")
    Path("b.txt").write_text("B")
    art = upload_artifact(["data/a.txt", "b.txt"], archive=archive)
    keys = on_s3.list(art.key + "/", recursive=True)
    if archive == "tar":
        assert keys == [f"{art.key}/dflow-archive.tgz"]
    else:
        assert f"{art.key}/data/a.txt" in keys and f"{art.key}/b.txt" in keys
    paths = download_artifact(art, path=tmp_path / "back")
    assert [Path(p).read_text() for p in paths] == ["A", "B"]
    assert [os.path.relpath(p, tmp_path / "back") for p in paths] == ["data/a.txt", "b.txt"]


def test_workflow_artifacts_live_in_s3(on_s3, tmp_path, s3_server):
    Path("seed.txt").write_text("seed")
    wf = Workflow("on-s3")
    first = Step("first", PythonOPTemplate(ops.Concat), parameters={"suffix": "-1"},
                 artifacts={"inp": upload_artifact("seed.txt")})
    fan = Step("fan", PythonOPTemplate(ops.SameNameWriter, slices=Slices(input_parameter=["x"], output_artifact=["out"])),
               parameters={"x": [1, 2, 3]}, with_param=argo_range(3))
    wf.add([first, fan])
    wf.add([Step("second", PythonOPTemplate(ops.Concat), parameters={"suffix": "-2"},
                 artifacts={"inp": first.outputs.artifacts["out"]}),
            Step("gather", PythonOPTemplate(ops.ReadAll), artifacts={"files": fan.outputs.artifacts["out"]})])
    wf.submit()
    assert wf.wait() == "Succeeded", wf.query().message
    second = wf.query_step(name="second")[0]
    assert second.outputs.parameters["text"].value == "seed-1-2"
    assert second.outputs.artifacts["out"].storage == "s3"
    assert on_s3.list(f"{wf.id}/", recursive=True), "no object of the run is in the bucket"
    paths = download_artifact(second.outputs.artifacts["out"], path=tmp_path / "dl")
    assert [Path(p).read_text() for p in paths] == ["seed-1-2"]
    assert wf.query_step(name="gather")[0].outputs.parameters["texts"].value == ["1", "2", "3"]
    secret = s3_server["secret_key"].encode()
    for root, _dirs, files in os.walk(tmp_path / wf.id):
        for fn in files:
            assert secret not in Path(root, fn).read_bytes(), f"the secret key was written to {fn}"
