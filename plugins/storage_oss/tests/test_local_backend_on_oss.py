"""The local backend keeping its artifacts in OSS (the protocol stand-in of oss_standin.py).

``s3_config["storage_type"] = "oss"`` selects the store; uploads, both steps'
inputs and outputs and the final download go through ``OSSClient``. The objects
are checked in the bucket, and no credential may be written under the workflow's
directory.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict

import pytest

pytest.importorskip("dflow_debug", reason="the local backend (dflow-debug) is not installed")
from dflow import config, s3_config
from dflow.testing.storage import check_local_run_in_store
from dflow_oss import OSSClient


@pytest.fixture
def on_oss(oss_server: Dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OSSClient:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    settings = {"endpoint": oss_server["endpoint"], "access_key": oss_server["access_key_id"],
                "secret_key": oss_server["access_key_secret"], "bucket_name": f"dflow-local-{uuid.uuid4().hex[:8]}",
                "storage_type": "oss", "storage_client": None, "prefix": "runs/"}
    for k, v in settings.items():
        monkeypatch.setitem(s3_config, k, v)
    from dflow.artifact import get_storage_client

    client = get_storage_client()
    assert isinstance(client, OSSClient)
    return client


def test_workflow_artifacts_live_in_oss(on_oss: OSSClient, oss_server: Dict[str, Any], tmp_path: Path) -> None:
    def stored(key: str) -> bool:  # the objects are under s3_config["prefix"] in the bucket itself
        return on_oss.oss2_bucket.head_object("runs/" + key) is not None  # raises NoSuchKey when absent

    check_local_run_in_store(on_oss, "oss", tmp_path, stored, [oss_server["access_key_secret"]])
