"""The local backend keeping its artifacts in Azure Blob Storage (Azurite, started by conftest.py).

``s3_config["storage_type"] = "azure"`` selects the store; uploads, both steps'
inputs and outputs and the final download go through ``AzureStorageClient``. The
blobs are checked in the container, and no credential may be written under the
workflow's directory.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytest.importorskip("dflow_debug", reason="the local backend (dflow-debug) is not installed")
from dflow import Step, Workflow, config, download_artifact, s3_config, upload_artifact
from dflow.python import PythonOPTemplate
from dflow.testing import ops
from dflow.testing.services import files_containing
from dflow_azure import AzureStorageClient


@pytest.fixture
def on_azure(azure_connection_string: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AzureStorageClient:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    settings = {"azure_connection_string": azure_connection_string,
                "bucket_name": f"dflow-local-{uuid.uuid4().hex[:8]}", "storage_type": "azure",
                "storage_client": None, "prefix": "runs/"}
    for k, v in settings.items():
        monkeypatch.setitem(s3_config, k, v)
    from dflow.artifact import get_storage_client

    client = get_storage_client()
    assert isinstance(client, AzureStorageClient)
    return client


def test_workflow_artifacts_live_in_azure(on_azure: AzureStorageClient, azure_connection_string: str,
                                          tmp_path: Path) -> None:
    Path("seed.txt").write_text("seed")
    art = upload_artifact("seed.txt")
    assert on_azure.list(art.key + "/", recursive=True) == [f"{art.key}/dflow-archive.tgz"]
    wf = Workflow("on-azure")
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
    assert out.storage == "azure"
    keys = on_azure.list(f"{wf.id}/", recursive=True)
    assert keys, "no blob of the run is in the container"
    container = on_azure.container_client
    assert all(container.get_blob_client("runs/" + k).exists() for k in keys)
    paths = download_artifact(out, path=tmp_path / "dl")
    assert [Path(p).read_text() for p in paths] == ["seed-1-2"]
    workdir = tmp_path / wf.id
    assert len([p for p in workdir.rglob("*") if p.is_file()]) > 10, "the workflow directory is not where expected"
    account_key = dict(p.split("=", 1) for p in azure_connection_string.split(";") if p)["AccountKey"]
    leaks = files_containing(tmp_path, [account_key, azure_connection_string])
    assert leaks == [], f"the Azure account key was written to {leaks}"
