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
from dflow import Step, Workflow, config, download_artifact, s3_config, upload_artifact
from dflow.python import PythonOPTemplate
from dflow.testing import ops
from dflow.testing.services import files_containing
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
    Path("seed.txt").write_text("seed")
    art = upload_artifact("seed.txt")
    assert on_oss.list(art.key + "/", recursive=True) == [f"{art.key}/dflow-archive.tgz"]
    wf = Workflow("on-oss")
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
    assert out.storage == "oss"
    keys = on_oss.list(f"{wf.id}/", recursive=True)
    assert keys, "no object of the run is in the bucket"
    # the objects are under s3_config["prefix"] in the bucket itself
    raw = on_oss.oss2_bucket
    for k in keys:
        raw.head_object("runs/" + k)  # raises NoSuchKey when absent
    paths = download_artifact(out, path=tmp_path / "dl")
    assert [Path(p).read_text() for p in paths] == ["seed-1-2"]
    workdir = tmp_path / wf.id
    assert len([p for p in workdir.rglob("*") if p.is_file()]) > 10, "the workflow directory is not where expected"
    leaks = files_containing(tmp_path, [oss_server["access_key_secret"]])
    assert leaks == [], f"the OSS secret was written to {leaks}"
