"""Where S3 artifacts are for a cluster backend: Argo's ``s3`` location, checked against
Argo's strict JSON schema, with credentials by secret name only."""

from __future__ import annotations

import json

import pytest

from dflow.plugins import get_storage_factory
from dflow.storage import ArtifactLocation, SecretRef
from dflow.testing.argo_schema import schema_errors
from dflow_minio import S3StorageClient

S3_ARTIFACT = "io.argoproj.workflow.v1alpha1.S3Artifact"
SECRET = "s3cr3t-value-that-must-not-leak"


def _client(**kwargs) -> S3StorageClient:
    return S3StorageClient("minio.example.org:9000", "AKIAEXAMPLE", SECRET, bucket_name="art", **kwargs)


def test_key_only_without_a_secret() -> None:
    loc = _client(prefix="team/").artifact_location("{{workflow.name}}/out")
    assert loc == ArtifactLocation("s3", {"key": "team/{{workflow.name}}/out"})
    assert loc.key_only
    assert schema_errors(loc.to_dict()["s3"], S3_ARTIFACT) == []


def test_full_location_with_a_secret() -> None:
    loc = _client(k8s_secret="s3-cred").artifact_location("upload/abc/data")
    body = loc.to_dict()["s3"]
    assert body == {
        "endpoint": "minio.example.org:9000",
        "bucket": "art",
        "key": "upload/abc/data",
        "insecure": True,
        "region": "us-east-1",
        "accessKeySecret": {"name": "s3-cred", "key": "accessKey"},
        "secretKeySecret": {"name": "s3-cred", "key": "secretKey"},
    }
    assert loc.secrets["secretKeySecret"] == SecretRef("s3-cred", "secretKey")
    assert schema_errors(body, S3_ARTIFACT) == []
    text = json.dumps(loc.to_dict())
    assert SECRET not in text and "AKIAEXAMPLE" not in text


def test_aws_and_cluster_endpoint() -> None:
    aws = S3StorageClient(None, "a", SECRET, bucket_name="b", region="eu-west-1", k8s_secret="c")
    body = aws.artifact_location("k").to_dict()["s3"]
    assert body["endpoint"] == "s3.amazonaws.com" and body["insecure"] is False and body["region"] == "eu-west-1"
    inside = _client(k8s_secret="c", cluster_endpoint="minio.argo.svc:9000", secure=True)
    body = inside.artifact_location("k").to_dict()["s3"]
    assert body["endpoint"] == "minio.argo.svc:9000" and body["insecure"] is False
    assert schema_errors(body, S3_ARTIFACT) == []


def test_s3_config_names_the_secret() -> None:
    c = get_storage_factory("s3")(endpoint="h:9000", access_key="a", secret_key=SECRET, bucket_name="b",
                                  s3_secret="from-config", s3_cluster_endpoint="in:9000", storage_type="s3")
    assert c.artifact_location("k").to_dict()["s3"]["accessKeySecret"] == {"name": "from-config", "key": "accessKey"}
    assert c.artifact_location("k").to_dict()["s3"]["endpoint"] == "in:9000"


def test_schema_check_is_strict() -> None:
    assert schema_errors({"key": "k", "bucketName": "b"}, S3_ARTIFACT)


@pytest.mark.parametrize("bad", ["../up", "/abs"])
def test_bad_keys_are_refused(bad: str) -> None:
    from dflow.errors import StorageError

    with pytest.raises(StorageError):
        _client().artifact_location(bad)
