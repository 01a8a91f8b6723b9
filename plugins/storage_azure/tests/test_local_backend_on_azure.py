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
from dflow import config, s3_config
from dflow.testing.storage import check_local_run_in_store
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
    account_key = dict(p.split("=", 1) for p in azure_connection_string.split(";") if p)["AccountKey"]
    container = on_azure.container_client
    check_local_run_in_store(on_azure, "azure", tmp_path, lambda k: container.get_blob_client("runs/" + k).exists(),
                             [account_key, azure_connection_string])
