"""S3StorageClient against a real, signature-checking S3 (Ceph RGW; see conftest.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from dflow.errors import StorageError
from dflow.plugins import get_storage_factory
from dflow.testing.services import DroppingProxy
from dflow.testing.storage import StorageClientConformance
from dflow_minio import S3StorageClient
from dflow_minio.client import MD5_METADATA_KEY

# every test here talks to a real S3 (RGW started by conftest.py)
pytestmark = pytest.mark.needs_rgw

MiB = 1024 * 1024
BUCKET = "dflow-conformance"


def make_client(server: Dict[str, str], **overrides: Any) -> S3StorageClient:
    options: Dict[str, Any] = {
        "endpoint": server["endpoint"],
        "access_key": server["access_key"],
        "secret_key": server["secret_key"],
        "secure": server.get("secure") or False,
        "bucket_name": BUCKET,
        # small parts so that a 12 MiB object is a real multipart object
        "multipart_threshold": 5 * MiB,
        "multipart_chunksize": 5 * MiB,
        "max_concurrency": 4,
    }
    options.update(overrides)
    return S3StorageClient(**options)


def raw_boto3(server: Dict[str, str]) -> Any:
    endpoint = server["endpoint"]
    if "://" not in endpoint:
        endpoint = ("https://" if server.get("secure") else "http://") + endpoint
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=server["access_key"],
        aws_secret_access_key=server["secret_key"],
        region_name="us-east-1",
    )


class TestS3StorageClient(StorageClientConformance):
    __test__ = True

    list_page_keys = 1005
    multipart_size = 12 * MiB

    @pytest.fixture
    def client(self, s3_server: Dict[str, str]) -> S3StorageClient:
        return make_client(s3_server)


def test_s3_server_available(rgw_unavailable_reason: Any) -> None:
    """Fails (not skips) on CI when there is neither an S3 endpoint nor RGW."""
    if os.environ.get("DFLOW_TEST_S3_ENDPOINT"):
        return
    reason = rgw_unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


# ---------------------------------------------------------------------- S3 specifics


@pytest.fixture
def client(s3_server: Dict[str, str]) -> S3StorageClient:
    return make_client(s3_server)


@pytest.fixture
def ns() -> str:
    return f"s3-{uuid.uuid4().hex[:12]}/"


def _md5_tag(raw: Any, key: str) -> str:
    tags = raw.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}.get(MD5_METADATA_KEY, "")


def test_multipart_upload_is_multipart_and_stores_md5(
    client: S3StorageClient, s3_server: Dict[str, str], ns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(12 * MiB)
    (tmp_path / "big").write_bytes(data)

    def second_pass(path: Any) -> str:
        raise AssertionError("a big file was hashed in a pass of its own")

    # the MD5 of a big file comes from the pass that reads its parts for the upload
    monkeypatch.setattr("dflow_minio.client.md5_file", second_pass)
    client.upload(ns + "big", str(tmp_path / "big"))
    raw = raw_boto3(s3_server)
    head = raw.head_object(Bucket=BUCKET, Key=ns + "big")
    assert "-" in head["ETag"], "expected a multipart ETag; the multipart path was not exercised"
    assert _md5_tag(raw, ns + "big") == hashlib.md5(data).hexdigest() + ":" + head["ETag"].strip('"')

    def no_streaming(*args: Any) -> str:
        raise AssertionError("get_md5 read the whole object although its MD5 was stored")

    client._stream_md5 = no_streaming  # type: ignore[method-assign]
    assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()


def test_small_upload_stores_md5_in_metadata(
    client: S3StorageClient, s3_server: Dict[str, str], ns: str, tmp_path: Path
) -> None:
    (tmp_path / "small").write_bytes(b"small")
    client.upload(ns + "small", str(tmp_path / "small"))
    head = raw_boto3(s3_server).head_object(Bucket=BUCKET, Key=ns + "small")
    assert head["Metadata"][MD5_METADATA_KEY] == hashlib.md5(b"small").hexdigest()


def test_stale_md5_tag_is_not_trusted(
    client: S3StorageClient, s3_server: Dict[str, str], ns: str, tmp_path: Path
) -> None:
    """A tag whose ETag part is not the object's (content changed) is ignored."""
    data = os.urandom(11 * MiB)
    (tmp_path / "big").write_bytes(data)
    client.upload(ns + "big", str(tmp_path / "big"))
    raw = raw_boto3(s3_server)
    raw.put_object_tagging(
        Bucket=BUCKET,
        Key=ns + "big",
        Tagging={"TagSet": [{"Key": MD5_METADATA_KEY, "Value": "0" * 32 + ":someotheretag-2"}]},
    )
    assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()


def test_md5_of_foreign_multipart_object_is_streamed(
    client: S3StorageClient, s3_server: Dict[str, str], ns: str, tmp_path: Path
) -> None:
    """An object written by another tool (multipart, no stored MD5) still gets the right MD5."""
    data = os.urandom(11 * MiB + 17)
    (tmp_path / "big").write_bytes(data)
    raw = raw_boto3(s3_server)
    raw.upload_file(
        str(tmp_path / "big"),
        BUCKET,
        ns + "foreign",
        Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB),
    )
    head = raw.head_object(Bucket=BUCKET, Key=ns + "foreign")
    assert "-" in head["ETag"] and MD5_METADATA_KEY not in head.get("Metadata", {})
    assert client.get_md5(ns + "foreign") == hashlib.md5(data).hexdigest()


def test_md5_of_foreign_single_part_object_uses_etag(
    client: S3StorageClient, s3_server: Dict[str, str], ns: str
) -> None:
    raw_boto3(s3_server).put_object(Bucket=BUCKET, Key=ns + "plain", Body=b"plain body")
    assert client.get_md5(ns + "plain") == hashlib.md5(b"plain body").hexdigest()


def test_multipart_copy_keeps_md5(client: S3StorageClient, s3_server: Dict[str, str], ns: str, tmp_path: Path) -> None:
    data = os.urandom(11 * MiB)
    (tmp_path / "big").write_bytes(data)
    client.upload(ns + "a/big", str(tmp_path / "big"))
    client.copy(ns + "a", ns + "b")
    raw = raw_boto3(s3_server)
    head = raw.head_object(Bucket=BUCKET, Key=ns + "b/big")
    assert _md5_tag(raw, ns + "b/big") == hashlib.md5(data).hexdigest() + ":" + head["ETag"].strip('"')


def test_missing_key_error_names_key_and_bucket(client: S3StorageClient, ns: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        client.download(ns + "nope.txt", str(tmp_path / "x"))
    message = str(info.value)
    assert ns + "nope.txt" in message and BUCKET in message


def test_missing_bucket_error_names_bucket(s3_server: Dict[str, str], tmp_path: Path) -> None:
    bucket = f"dflow-absent-{uuid.uuid4().hex[:8]}"
    c = make_client(s3_server, bucket_name=bucket)
    with pytest.raises(StorageError) as info:
        c.download("k", str(tmp_path / "x"))
    assert bucket in str(info.value)


def test_bucket_created_when_missing(s3_server: Dict[str, str], tmp_path: Path) -> None:
    bucket = f"dflow-new-{uuid.uuid4().hex[:8]}"
    c = make_client(s3_server, bucket_name=bucket)
    (tmp_path / "f").write_bytes(b"f")
    c.upload("k", str(tmp_path / "f"))
    assert c.list("", recursive=True) == ["k"]
    raw_boto3(s3_server).head_bucket(Bucket=bucket)


def test_wrong_secret_is_a_storage_error_without_the_secret(s3_server: Dict[str, str], tmp_path: Path) -> None:
    wrong = "WRONG-" + uuid.uuid4().hex
    c = make_client(s3_server, secret_key=wrong, max_attempts=1)
    with pytest.raises(StorageError) as info:
        c.list("anything/")
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert BUCKET in str(info.value)


def test_secret_never_shown(
    s3_server: Dict[str, str], ns: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = s3_server["secret_key"]
    caplog.set_level(logging.DEBUG)
    c = make_client(s3_server)
    assert secret not in repr(c) and secret not in str(c) and secret not in f"{c!r} {c}"
    assert secret not in repr(vars(c)), "an attribute's repr reveals the secret key"
    with pytest.raises(TypeError):
        pickle.dumps(c)
    (tmp_path / "f").write_bytes(b"data")
    c.upload(ns + "f", str(tmp_path / "f"))
    c.download(ns + "f", str(tmp_path / "g"))
    c.list(ns, recursive=True)
    c.get_md5(ns + "f")
    with pytest.raises(StorageError) as info:
        c.download(ns + "missing", str(tmp_path / "h"))
    assert secret not in str(info.value)
    assert caplog.records, "expected botocore debug logs to check"
    assert secret not in caplog.text


def test_plugin_registers_s3_and_minio(s3_server: Dict[str, str], ns: str, tmp_path: Path) -> None:
    factory = get_storage_factory("s3")
    assert get_storage_factory("minio") is factory
    # the whole of an s3_config dict, with keys the client does not use
    options = {
        "endpoint": s3_server["endpoint"],
        "console": "http://127.0.0.1:9001",
        "access_key": s3_server["access_key"],
        "secret_key": s3_server["secret_key"],
        "secure": s3_server.get("secure") or False,
        "bucket_name": BUCKET,
        "region": None,
        "repo_key": None,
        "repo": None,
        "repo_type": "s3",
        "repo_prefix": "",
        "prefix": "",
        "storage_client": None,
        "storage_type": "s3",
        "extra_prefixes": [],
    }
    c = factory(**options)
    assert isinstance(c, S3StorageClient)
    (tmp_path / "f").write_bytes(b"via plugin")
    c.upload(ns + "f", str(tmp_path / "f"))
    assert c.get_md5(ns + "f") == hashlib.md5(b"via plugin").hexdigest()


def test_prefix_is_a_namespace(s3_server: Dict[str, str], ns: str, tmp_path: Path) -> None:
    c = make_client(s3_server, prefix=ns + "root/")
    (tmp_path / "f").write_bytes(b"f")
    c.upload("a/f", str(tmp_path / "f"))
    assert c.list("", recursive=True) == ["a/f"]
    assert c.list("a/") == ["a/f"]
    raw = raw_boto3(s3_server)
    assert raw.get_object(Bucket=BUCKET, Key=ns + "root/a/f")["Body"].read() == b"f"
    c.copy("a", "b")
    assert sorted(c.list("", recursive=True)) == ["a/f", "b/f"]


def test_endpoint_forms() -> None:
    assert S3StorageClient("h:9000", "a", "s", secure=True).endpoint_url == "https://h:9000"
    assert S3StorageClient("h:9000", "a", "s", secure="false").endpoint_url == "http://h:9000"
    assert S3StorageClient("http://h:1/", "a", "s", secure=True).endpoint_url == "http://h:1"
    aws = S3StorageClient(None, "a", "s", region="eu-west-1")
    assert aws.endpoint_url is None and aws.region == "eu-west-1"


# ---------------------------------------------------------------------- retries


@pytest.fixture
def proxy_factory(s3_server: Dict[str, str]) -> Iterator[Any]:
    proxies: List[DroppingProxy] = []

    def make(drop: int) -> DroppingProxy:
        p = DroppingProxy(s3_server["endpoint"], drop)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


def test_transient_connection_errors_are_retried(
    s3_server: Dict[str, str], proxy_factory: Any, ns: str, tmp_path: Path
) -> None:
    if s3_server.get("secure") or s3_server["endpoint"].startswith("https://"):
        pytest.skip("the dropping proxy speaks plain http only")
    make_client(s3_server).upload(ns + "f", str(_file(tmp_path / "f", b"retry me")))
    proxy = proxy_factory(drop=2)
    c = make_client(s3_server, endpoint=f"127.0.0.1:{proxy.port}", max_attempts=4, connect_timeout=5, read_timeout=10)
    c.download(ns + "f", str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"retry me"
    assert proxy.dropped == 2 and proxy.forwarded >= 1


def test_no_retries_left_is_a_storage_error(
    s3_server: Dict[str, str], proxy_factory: Any, ns: str, tmp_path: Path
) -> None:
    if s3_server.get("secure") or s3_server["endpoint"].startswith("https://"):
        pytest.skip("the dropping proxy speaks plain http only")
    proxy = proxy_factory(drop=1000)
    c = make_client(s3_server, endpoint=f"127.0.0.1:{proxy.port}", max_attempts=2, connect_timeout=5, read_timeout=10)
    with pytest.raises(StorageError) as info:
        c.get_md5(ns + "f")
    assert ns + "f" in str(info.value)
    assert proxy.dropped == 2 and proxy.forwarded == 0


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
