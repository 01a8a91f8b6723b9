"""Where GCS artifacts are for a cluster backend: Argo's ``gcs`` location, checked against
Argo's strict JSON schema, with credentials by secret name only."""

from __future__ import annotations

import pytest

from dflow.storage import ArtifactLocation, SecretRef
from dflow.testing.argo_schema import schema_errors
from dflow_gcs import GCSStorageClient

GCS_ARTIFACT = "io.argoproj.workflow.v1alpha1.GCSArtifact"


def _client(**kwargs) -> GCSStorageClient:
    return GCSStorageClient("my-bucket", anonymous=True, api_endpoint="http://127.0.0.1:1", **kwargs)


def test_key_only_without_a_secret() -> None:
    loc = _client(prefix="team/").artifact_location("{{workflow.name}}/out")
    assert loc == ArtifactLocation("gcs", {"key": "team/{{workflow.name}}/out"})
    assert loc.key_only
    assert schema_errors(loc.to_dict()["gcs"], GCS_ARTIFACT) == []


def test_full_location_with_a_secret() -> None:
    loc = _client(k8s_secret="gcs-cred").artifact_location("upload/abc/data")
    body = loc.to_dict()["gcs"]
    assert body == {"bucket": "my-bucket", "key": "upload/abc/data",
                    "serviceAccountKeySecret": {"name": "gcs-cred", "key": "serviceAccountKey"}}
    assert loc.secrets == {"serviceAccountKeySecret": SecretRef("gcs-cred", "serviceAccountKey")}
    assert schema_errors(body, GCS_ARTIFACT) == []


def test_schema_check_is_strict() -> None:
    assert schema_errors({"key": "k", "endpoint": "e"}, GCS_ARTIFACT)


@pytest.mark.parametrize("bad", ["../up", "/abs"])
def test_bad_keys_are_refused(bad: str) -> None:
    from dflow.errors import StorageError

    with pytest.raises(StorageError):
        _client().artifact_location(bad)
