"""Where OSS artifacts are for a cluster backend: Argo's ``oss`` location, checked against
Argo's strict JSON schema, with credentials by secret name only."""

from __future__ import annotations

import json

import pytest

from dflow.storage import ArtifactLocation, SecretRef
from dflow.testing.argo_schema import schema_errors
from dflow_oss import OSSClient

OSS_ARTIFACT = "io.argoproj.workflow.v1alpha1.OSSArtifact"
SECRET = "s3cr3t-value-that-must-not-leak"


def _client(**kwargs) -> OSSClient:
    return OSSClient("https://oss-cn-hangzhou.aliyuncs.com", "my-bucket", "LTAIexample", SECRET, **kwargs)


def test_key_only_without_a_secret() -> None:
    loc = _client(prefix="team/").artifact_location("{{workflow.name}}/step/out")
    assert loc == ArtifactLocation("oss", {"key": "team/{{workflow.name}}/step/out"})
    assert loc.key_only
    assert schema_errors(loc.to_dict()["oss"], OSS_ARTIFACT) == []


def test_full_location_with_a_secret() -> None:
    loc = _client(k8s_secret="oss-cred", cluster_endpoint="https://oss-cn-hangzhou-internal.aliyuncs.com") \
        .artifact_location("upload/abc/data")
    assert not loc.key_only
    body = loc.to_dict()["oss"]
    assert body == {
        "endpoint": "https://oss-cn-hangzhou-internal.aliyuncs.com",
        "bucket": "my-bucket",
        "key": "upload/abc/data",
        "accessKeySecret": {"name": "oss-cred", "key": "accessKey"},
        "secretKeySecret": {"name": "oss-cred", "key": "secretKey"},
    }
    assert loc.secrets["accessKeySecret"] == SecretRef("oss-cred", "accessKey")
    assert schema_errors(body, OSS_ARTIFACT) == []
    text = json.dumps(loc.to_dict())
    assert SECRET not in text and "LTAIexample" not in text


def test_schema_check_is_strict() -> None:
    """The check above can fail: a misspelt field is refused."""
    assert schema_errors({"key": "k", "bucketName": "b"}, OSS_ARTIFACT)


@pytest.mark.parametrize("bad", ["../up", "/abs"])
def test_bad_keys_are_refused(bad: str) -> None:
    from dflow.errors import StorageError

    with pytest.raises(StorageError):
        _client().artifact_location(bad)
