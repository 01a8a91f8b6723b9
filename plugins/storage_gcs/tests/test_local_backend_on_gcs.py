"""The local backend keeping its artifacts in Cloud Storage (fake-gcs-server, started by conftest.py).

``s3_config["storage_type"] = "gcs"`` selects the store; uploads, both steps'
inputs and outputs and the final download go through ``GCSStorageClient``. The
client sends an OAuth token (which the emulator accepts without checking), and
that token may not be written under the workflow's directory.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytest.importorskip("dflow_debug", reason="the local backend (dflow-debug) is not installed")
from google.oauth2.credentials import Credentials

from dflow import Step, Workflow, config, download_artifact, s3_config, upload_artifact
from dflow.python import PythonOPTemplate
from dflow.testing import ops
from dflow.testing.services import files_containing
from dflow_gcs import GCSStorageClient

TOKEN = "ya29.dflow-test-token-" + uuid.uuid4().hex


@pytest.fixture
def on_gcs(gcs_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GCSStorageClient:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    settings = {"bucket_name": f"dflow-local-{uuid.uuid4().hex[:8]}", "storage_type": "gcs",
                "storage_client": None, "prefix": "runs/", "gcs_api_endpoint": gcs_endpoint,
                "gcs_project": "dflow-test", "gcs_credentials": Credentials(token=TOKEN)}
    for k, v in settings.items():
        monkeypatch.setitem(s3_config, k, v)
    from dflow.artifact import get_storage_client

    client = get_storage_client()
    assert isinstance(client, GCSStorageClient)
    assert client._client._credentials.token == TOKEN, "the client must send the token (else nothing could leak)"
    return client


def test_workflow_artifacts_live_in_gcs(on_gcs: GCSStorageClient, tmp_path: Path) -> None:
    Path("seed.txt").write_text("seed")
    art = upload_artifact("seed.txt")
    assert on_gcs.list(art.key + "/", recursive=True) == [f"{art.key}/dflow-archive.tgz"]
    wf = Workflow("on-gcs")
    first = Step("first", PythonOPTemplate(ops.Concat), parameters={"suffix": "-1"}, artifacts={"inp": art})
    second = Step("second", PythonOPTemplate(ops.Concat), parameters={"suffix": "-2"},
                  artifacts={"inp": first.outputs.artifacts["out"]})
    wf.add(first)
    wf.add(second)
    wf.submit()
    assert wf.wait() == "Succeeded", wf.query().message
    step = wf.query_step(name="second")[0]
    assert step.outputs.parameters["text"].value == "seed-1-2"
    out = step.outputs.artifacts["out"]
    assert out.storage == "gcs"
    keys = on_gcs.list(f"{wf.id}/", recursive=True)
    assert keys, "no object of the run is in the bucket"
    assert all(on_gcs.gcs_bucket.get_blob("runs/" + k) is not None for k in keys)
    paths = download_artifact(out, path=tmp_path / "dl")
    assert [Path(p).read_text() for p in paths] == ["seed-1-2"]
    workdir = tmp_path / wf.id
    assert len([p for p in workdir.rglob("*") if p.is_file()]) > 10, "the workflow directory is not where expected"
    leaks = files_containing(tmp_path, [TOKEN])
    assert leaks == [], f"the OAuth token was written to {leaks}"
