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

from dflow import config, s3_config
from dflow.testing.storage import check_local_run_in_store
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
    check_local_run_in_store(on_gcs, "gcs", tmp_path, lambda k: on_gcs.gcs_bucket.get_blob("runs/" + k) is not None,
                             [TOKEN])
