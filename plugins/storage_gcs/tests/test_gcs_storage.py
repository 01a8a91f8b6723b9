"""GCSStorageClient against a real Cloud Storage API: fake-gcs-server, started by conftest.py."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import pickle
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage import transfer_manager

from dflow.errors import StorageError
from dflow.plugins import get_storage_factory
from dflow.testing.services import DroppingProxy
from dflow.testing.storage import StorageClientConformance
from dflow_gcs import GCSStorageClient

MiB = 1024 * 1024
BUCKET = "dflow-conformance"


def make_client(endpoint: str, **overrides: Any) -> GCSStorageClient:
    options: Dict[str, Any] = {
        "bucket_name": BUCKET,
        "api_endpoint": endpoint,
        "anonymous": True,
        # small chunks and thresholds so that 12 MiB objects take the chunked and parallel paths
        "chunk_size": MiB,
        "upload_chunk_size": MiB,
        "multipart_threshold": 4 * MiB,
        "max_concurrency": 4,
        "list_page_size": 25,
        "backoff": 0.05,
        "retry_deadline": 20.0,
    }
    options.update(overrides)
    return GCSStorageClient(**options)


def raw_bucket(endpoint: str, bucket: str = BUCKET) -> storage.Bucket:
    client = storage.Client(project="test", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": endpoint}, use_auth_w_custom_endpoint=False)
    return client.bucket(bucket)


class TestGCSStorageClient(StorageClientConformance):
    __test__ = True

    list_page_keys = 120  # almost five pages of 25
    multipart_size = 12 * MiB

    @pytest.fixture
    def client(self, gcs_endpoint: str) -> GCSStorageClient:
        return make_client(gcs_endpoint)


# ---------------------------------------------------------------------- GCS specifics


@pytest.fixture
def client(gcs_endpoint: str) -> GCSStorageClient:
    return make_client(gcs_endpoint)


@pytest.fixture
def ns() -> str:
    return f"gcs-{uuid.uuid4().hex[:12]}/"


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_big_files_go_in_chunks_and_parallel_reads(client: GCSStorageClient, ns: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(9 * MiB + 5)
    uploads: List[Any] = []
    real_upload = storage.Blob.upload_from_filename

    def recording_upload(self: storage.Blob, *args: Any, **kwargs: Any) -> Any:
        uploads.append((self.chunk_size, kwargs.get("checksum")))
        return real_upload(self, *args, **kwargs)

    downloads: List[int] = []
    real_download = transfer_manager.download_chunks_concurrently

    def recording_download(blob: Any, filename: str, **kwargs: Any) -> Any:
        downloads.append(kwargs["chunk_size"])
        return real_download(blob, filename, **kwargs)

    monkeypatch.setattr(storage.Blob, "upload_from_filename", recording_upload)
    monkeypatch.setattr(transfer_manager, "download_chunks_concurrently", recording_download)
    client.upload(ns + "big", str(_file(tmp_path / "big", data)))
    assert uploads == [(MiB, "crc32c")], "expected a chunked resumable upload checked by CRC32C"
    client.download(ns + "big", str(tmp_path / "out"))
    assert downloads == [MiB] and (tmp_path / "out").read_bytes() == data


def test_md5_is_the_objects_own(client: GCSStorageClient, gcs_endpoint: str, ns: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(5 * MiB)
    client.upload(ns + "big", str(_file(tmp_path / "big", data)))
    blob = raw_bucket(gcs_endpoint).get_blob(ns + "big")
    assert base64.b64decode(blob.md5_hash).hex() == hashlib.md5(data).hexdigest()

    def no_streaming(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("get_md5 read the object although GCS keeps its MD5")

    monkeypatch.setattr(storage.Blob, "open", no_streaming)
    assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()


def test_md5_of_an_object_without_md5hash_is_streamed(client: GCSStorageClient, ns: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Composite objects have no md5Hash: the MD5 is then read from the content."""
    data = os.urandom(3 * MiB + 1)
    client.upload(ns + "obj", str(_file(tmp_path / "obj", data)))
    real = client._blob

    def composite_like(full_key: str) -> Any:
        blob = real(full_key)
        if blob is not None:
            blob._properties.pop("md5Hash", None)
        return blob

    monkeypatch.setattr(client, "_blob", composite_like)
    assert client.get_md5(ns + "obj") == hashlib.md5(data).hexdigest()


def test_copy_keeps_md5_and_metadata(client: GCSStorageClient, gcs_endpoint: str, ns: str, tmp_path: Path) -> None:
    data = os.urandom(5 * MiB)
    client.upload(ns + "a/big", str(_file(tmp_path / "big", data)))
    meta = raw_bucket(gcs_endpoint).blob(ns + "a/meta")
    meta.metadata = {"colour": "blue"}
    meta.upload_from_string(b"m")
    client.copy(ns + "a", ns + "b")
    assert client.get_md5(ns + "b/big") == hashlib.md5(data).hexdigest()
    assert raw_bucket(gcs_endpoint).get_blob(ns + "b/meta").metadata == {"colour": "blue"}


def test_listing_pages(client: GCSStorageClient, gcs_endpoint: str, ns: str, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):
        _file(tmp_path / "many" / f"d{i % 3}" / f"f{i:02d}", b"x")
    client.upload(ns + "m", str(tmp_path / "many"))
    small_pages = make_client(gcs_endpoint, list_page_size=2)
    pages: List[int] = []
    real = small_pages._client.list_blobs

    def counting(*args: Any, **kwargs: Any) -> Any:
        iterator = real(*args, **kwargs)
        real_pages = iterator._page_iter

        def page_iter(increment: bool) -> Iterator[Any]:
            for page in real_pages(increment):
                pages.append(page.num_items)
                yield page

        iterator._page_iter = page_iter
        return iterator

    monkeypatch.setattr(small_pages._client, "list_blobs", counting)
    assert len(small_pages.list(ns + "m/", recursive=True)) == 12
    assert pages == [2] * 6
    assert small_pages.list(ns + "m/") == [ns + f"m/d{i}/" for i in range(3)]


def test_missing_key_error_names_key_and_bucket(client: GCSStorageClient, ns: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        client.download(ns + "nope.txt", str(tmp_path / "x"))
    assert ns + "nope.txt" in str(info.value) and BUCKET in str(info.value)


def test_bucket_created_when_missing(gcs_endpoint: str, tmp_path: Path) -> None:
    bucket = f"dflow-new-{uuid.uuid4().hex[:8]}"
    c = make_client(gcs_endpoint, bucket_name=bucket)
    c.upload("k", str(_file(tmp_path / "f", b"f")))
    assert c.list("", recursive=True) == ["k"]
    assert raw_bucket(gcs_endpoint, bucket).blob("k").download_as_bytes() == b"f"


def test_missing_bucket_error_names_it(gcs_endpoint: str, tmp_path: Path) -> None:
    bucket = f"dflow-absent-{uuid.uuid4().hex[:8]}"
    with pytest.raises(StorageError) as info:
        make_client(gcs_endpoint, bucket_name=bucket).download("k", str(tmp_path / "x"))
    assert bucket in str(info.value)


def test_storage_emulator_host_is_honoured(gcs_endpoint: str, ns: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    from dflow.plugins.gcs import GCSStorageClient as Legacy  # the import path users know

    c = Legacy(BUCKET)  # no endpoint, no credentials: as with Google's own client
    assert c.endpoint == gcs_endpoint
    c.upload(ns + "f", str(_file(tmp_path / "f", b"emulated")))
    assert c.get_md5(ns + "f") == hashlib.md5(b"emulated").hexdigest()


def test_credentials_never_shown(tmp_path: Path, gcs_endpoint: str, caplog: pytest.LogCaptureFixture) -> None:
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa",
                              reason="making a service-account key needs the cryptography package")
    from cryptography.hazmat.primitives import serialization

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "dflow-test", "private_key_id": "k1", "private_key": pem,
            "client_email": "dflow@dflow-test.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token"}
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    caplog.set_level(logging.DEBUG)
    c = GCSStorageClient(BUCKET, credentials_file=str(path), api_endpoint=gcs_endpoint)
    body = pem.splitlines()[5]
    assert body not in f"{c!r} {c}" and body not in repr(vars(c))
    with pytest.raises(TypeError):
        pickle.dumps(c)
    assert body not in caplog.text


def test_bad_credentials_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nsecretbits"}')
    with pytest.raises(StorageError) as info:
        GCSStorageClient(BUCKET, credentials_file=str(path))
    assert "broken.json" in str(info.value) and "secretbits" not in str(info.value)


def test_settings_are_checked() -> None:
    with pytest.raises(StorageError, match="bucket_name"):
        GCSStorageClient("", anonymous=True)
    with pytest.raises(StorageError, match="256 KiB"):
        GCSStorageClient("b", anonymous=True, upload_chunk_size=1000)


def test_plugin_builds_the_client_from_s3_config(gcs_endpoint: str, ns: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from dflow.settings import s3_config

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    options = {k: v for k, v in s3_config.items() if k != "storage_client"}
    options.update(bucket_name=BUCKET, storage_type="gcs", prefix=ns + "root/", gcs_secret="gcs-cred",
                   root="/ignored")
    c = get_storage_factory("gcs")(**options)
    assert isinstance(c, GCSStorageClient) and c.k8s_secret == "gcs-cred"
    c.upload("f", str(_file(tmp_path / "f", b"via plugin")))
    assert raw_bucket(gcs_endpoint).blob(ns + "root/f").download_as_bytes() == b"via plugin"


def test_prefix_is_a_namespace(gcs_endpoint: str, ns: str, tmp_path: Path) -> None:
    c = make_client(gcs_endpoint, prefix=ns + "root/")
    c.upload("a/f", str(_file(tmp_path / "f", b"f")))
    assert c.list("", recursive=True) == ["a/f"]
    assert c.list("a/") == ["a/f"]
    c.copy("a", "b")
    assert c.list("", recursive=True) == ["a/f", "b/f"]
    c.delete("a")
    assert c.list("", recursive=True) == ["b/f"]


# ---------------------------------------------------------------------- retries


@pytest.fixture
def proxy_factory(gcs_endpoint: str) -> Iterator[Any]:
    proxies: List[DroppingProxy] = []

    def make(drop: int) -> DroppingProxy:
        p = DroppingProxy(gcs_endpoint, drop)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


def test_dropped_connections_are_retried(gcs_endpoint: str, proxy_factory: Any, ns: str, tmp_path: Path) -> None:
    data = os.urandom(5 * MiB)
    make_client(gcs_endpoint).upload(ns + "f", str(_file(tmp_path / "f", data)))
    proxy = proxy_factory(2)
    c = make_client(proxy.endpoint)
    c.download(ns + "f", str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == data
    assert proxy.dropped == 2 and proxy.forwarded >= 1
    proxy = proxy_factory(3)
    make_client(proxy.endpoint).upload(ns + "up", str(tmp_path / "f"))
    assert proxy.dropped == 3
    assert make_client(gcs_endpoint).get_md5(ns + "up") == hashlib.md5(data).hexdigest()


def test_no_retries_left_is_a_storage_error(proxy_factory: Any, ns: str) -> None:
    proxy = proxy_factory(1000)
    c = make_client(proxy.endpoint, retry_deadline=1.5, backoff=0.2)
    with pytest.raises(StorageError) as info:
        c.get_md5(ns + "f")
    assert ns + "f" in str(info.value)
    assert proxy.dropped >= 2 and proxy.forwarded == 0
