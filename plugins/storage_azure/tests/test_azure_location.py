"""Where Azure artifacts are for a cluster backend: Argo's ``azure`` location, checked against
Argo's strict JSON schema, with credentials by secret name only."""

from __future__ import annotations

import json

import pytest

from dflow.storage import SecretRef
from dflow.testing.argo_schema import schema_errors
from dflow_azure import AzureStorageClient

AZURE_ARTIFACT = "io.argoproj.workflow.v1alpha1.AzureArtifact"
KEY = "c2VjcmV0LWFjY291bnQta2V5LXRoYXQtbXVzdC1ub3QtbGVhaw=="
CONNECTION = ("DefaultEndpointsProtocol=https;AccountName=dflowacct;AccountKey=" + KEY +
              ";EndpointSuffix=core.windows.net")


def _client(**kwargs) -> AzureStorageClient:
    return AzureStorageClient(CONNECTION, "artifacts", **kwargs)


def test_key_only_without_a_secret() -> None:
    """Argo's key-only form: the blob alone, completed from the cluster's artifact repository.

    Argo's generated schema lists ``endpoint`` and ``container`` as required (its Go
    fields have no ``omitempty``) although its controller fills them in for key-only
    artifacts; those two are the only complaints the strict schema may have.
    """
    loc = _client(prefix="team/").artifact_location("{{workflow.name}}/out")
    assert loc.to_dict() == {"azure": {"blob": "team/{{workflow.name}}/out"}}
    assert loc.key_only
    assert sorted(schema_errors(loc.to_dict()["azure"], AZURE_ARTIFACT)) == [
        ": 'container' is a required property", ": 'endpoint' is a required property"]


def test_full_location_with_a_secret() -> None:
    loc = _client(k8s_secret="azure-cred").artifact_location("upload/abc/data")
    body = loc.to_dict()["azure"]
    assert body == {
        "endpoint": "https://dflowacct.blob.core.windows.net",
        "container": "artifacts",
        "blob": "upload/abc/data",
        "accountKeySecret": {"name": "azure-cred", "key": "accountKey"},
    }
    assert loc.secrets == {"accountKeySecret": SecretRef("azure-cred", "accountKey")}
    assert schema_errors(body, AZURE_ARTIFACT) == []
    assert KEY not in json.dumps(loc.to_dict())


def test_sdk_credentials_location() -> None:
    loc = _client(use_sdk_creds=True, cluster_endpoint="https://dflowacct.privatelink.blob.core.windows.net")
    body = loc.artifact_location("k").to_dict()["azure"]
    assert body == {"endpoint": "https://dflowacct.privatelink.blob.core.windows.net", "container": "artifacts",
                    "blob": "k", "useSDKCreds": True}
    assert schema_errors(body, AZURE_ARTIFACT) == []


def test_schema_check_is_strict() -> None:
    assert schema_errors({"endpoint": "e", "container": "c", "blob": "b", "key": "k"}, AZURE_ARTIFACT)


@pytest.mark.parametrize("bad", ["../up", "/abs"])
def test_bad_keys_are_refused(bad: str) -> None:
    from dflow.errors import StorageError

    with pytest.raises(StorageError):
        _client().artifact_location(bad)
