"""AzureStorageClient against a real Azure Blob service: Azurite, started by conftest.py."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from azure.storage.blob import BlobServiceClient, ContentSettings

from dflow.errors import StorageError
from dflow.plugins import get_storage_factory
from dflow.testing.services import DroppingProxy
from dflow.testing.storage import StorageClientConformance
from dflow_azure import AzureStorageClient

MiB = 1024 * 1024
CONTAINER = "dflow-conformance"


def make_client(connection_string: str, **overrides: Any) -> AzureStorageClient:
    options: Dict[str, Any] = {
        "connection_string": connection_string,
        "container_name": CONTAINER,
        # small blocks so that 12 MiB files are block blobs of several blocks
        "max_single_put_size": 4 * MiB,
        "block_size": 2 * MiB,
        "max_concurrency": 4,
        "list_page_size": 25,
        "backoff": 0.1,
    }
    options.update(overrides)
    return AzureStorageClient(**options)


def raw_container(connection_string: str, container: str = CONTAINER) -> Any:
    return BlobServiceClient.from_connection_string(connection_string).get_container_client(container)


def _parts(connection_string: str) -> Dict[str, str]:
    return dict(p.split("=", 1) for p in connection_string.split(";") if p)


class TestAzureStorageClient(StorageClientConformance):
    __test__ = True

    list_page_keys = 120  # almost five pages of 25
    multipart_size = 12 * MiB

    @pytest.fixture
    def client(self, azure_connection_string: str) -> AzureStorageClient:
        return make_client(azure_connection_string)


# ---------------------------------------------------------------------- Azure specifics


@pytest.fixture
def client(azure_connection_string: str) -> AzureStorageClient:
    return make_client(azure_connection_string)


@pytest.fixture
def ns() -> str:
    return f"az-{uuid.uuid4().hex[:12]}/"


def test_big_upload_is_a_block_blob_with_its_md5(client: AzureStorageClient, azure_connection_string: str, ns: str,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.storage.blob import BlobClient

    data = os.urandom(11 * MiB + 3)
    (tmp_path / "big").write_bytes(data)
    set_md5: List[bytes] = []
    real = BlobClient.set_http_headers

    def recording(self: Any, content_settings: Any = None, **kwargs: Any) -> Any:
        set_md5.append(bytes(content_settings.content_md5))
        return real(self, content_settings, **kwargs)

    monkeypatch.setattr(BlobClient, "set_http_headers", recording)
    client.upload(ns + "big", str(tmp_path / "big"))
    # the MD5 the client computed while the SDK read the blocks (Azure keeps none for block blobs)
    assert set_md5 == [hashlib.md5(data).digest()]
    blob = raw_container(azure_connection_string).get_blob_client(ns + "big")
    committed, _ = blob.get_block_list("committed")
    assert len(committed) == 6, "expected a block blob of 2 MiB blocks"
    assert bytes(blob.get_blob_properties().content_settings.content_md5) == hashlib.md5(data).digest()

    def no_streaming(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("get_md5 read the blob although its MD5 was kept")

    monkeypatch.setattr(BlobClient, "download_blob", no_streaming)
    assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()


def test_md5_of_a_blob_without_content_md5_is_streamed(client: AzureStorageClient, azure_connection_string: str,
                                                       ns: str, tmp_path: Path) -> None:
    """A blob another tool committed without Content-MD5 still gets the right MD5."""
    data = os.urandom(5 * MiB + 1)
    blob = raw_container(azure_connection_string).get_blob_client(ns + "foreign")
    client.upload(ns + "seed", str(_file(tmp_path / "seed", b"s")))  # creates the container
    blob.upload_blob(data, overwrite=True)
    blob.set_http_headers(ContentSettings(content_type="application/octet-stream"))  # clears Content-MD5
    assert not blob.get_blob_properties().content_settings.content_md5
    assert client.get_md5(ns + "foreign") == hashlib.md5(data).hexdigest()


def test_copy_keeps_md5_and_metadata(client: AzureStorageClient, azure_connection_string: str, ns: str,
                                     tmp_path: Path) -> None:
    data = os.urandom(9 * MiB)
    client.upload(ns + "a/big", str(_file(tmp_path / "big", data)))
    container = raw_container(azure_connection_string)
    container.get_blob_client(ns + "a/meta").upload_blob(b"m", metadata={"colour": "blue"})
    client.copy(ns + "a", ns + "b")
    props = container.get_blob_client(ns + "b/big").get_blob_properties()
    assert bytes(props.content_settings.content_md5) == hashlib.md5(data).digest()
    assert container.get_blob_client(ns + "b/meta").get_blob_properties().metadata == {"colour": "blue"}


def test_listing_pages(client: AzureStorageClient, ns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):
        _file(tmp_path / "many" / f"d{i % 3}" / f"f{i:02d}", b"x")
    client.upload(ns + "m", str(tmp_path / "many"))
    small_pages = make_client(client._credentials.get()[0], list_page_size=2)
    pages: List[int] = []
    real = small_pages.container_client.list_blobs

    def counting(*args: Any, **kwargs: Any) -> Any:
        paged = real(*args, **kwargs)
        real_by_page = paged.by_page

        def by_page(*a: Any, **k: Any) -> Iterator[Any]:
            for page in real_by_page(*a, **k):
                items = list(page)
                pages.append(len(items))
                yield iter(items)

        paged.by_page = by_page
        return paged

    monkeypatch.setattr(small_pages.container_client, "list_blobs", counting)
    assert len(small_pages.list(ns + "m/", recursive=True)) == 12
    assert pages == [2] * 6
    assert small_pages.list(ns + "m/") == [ns + f"m/d{i}/" for i in range(3)]


def test_missing_key_error_names_key_and_container(client: AzureStorageClient, ns: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        client.download(ns + "nope.txt", str(tmp_path / "x"))
    assert ns + "nope.txt" in str(info.value) and CONTAINER in str(info.value)


def test_container_created_when_missing(azure_connection_string: str, tmp_path: Path) -> None:
    container = f"dflow-new-{uuid.uuid4().hex[:8]}"
    c = make_client(azure_connection_string, container_name=container)
    c.upload("k", str(_file(tmp_path / "f", b"f")))
    assert c.list("", recursive=True) == ["k"]
    assert raw_container(azure_connection_string, container).download_blob("k").readall() == b"f"


def test_missing_container_error_names_it(azure_connection_string: str, tmp_path: Path) -> None:
    container = f"dflow-absent-{uuid.uuid4().hex[:8]}"
    with pytest.raises(StorageError) as info:
        make_client(azure_connection_string, container_name=container).download("k", str(tmp_path / "x"))
    assert container in str(info.value)


def test_wrong_key_is_a_storage_error_without_the_key(azure_connection_string: str) -> None:
    wrong = "V1JPTkc" + uuid.uuid4().hex + "=="
    bad = re.sub(r"AccountKey=[^;]*", f"AccountKey={wrong}", azure_connection_string)
    c = make_client(bad, max_attempts=1)
    with pytest.raises(StorageError) as info:
        c.list("anything/")
    assert "403" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(info.value)


def test_credentials_never_shown(azure_connection_string: str, ns: str, tmp_path: Path,
                                 caplog: pytest.LogCaptureFixture) -> None:
    key = _parts(azure_connection_string)["AccountKey"]
    caplog.set_level(logging.DEBUG)
    c = make_client(azure_connection_string)
    assert key not in f"{c!r} {c}" and key not in repr(vars(c))
    with pytest.raises(TypeError):
        pickle.dumps(c)
    c.upload(ns + "f", str(_file(tmp_path / "f", b"data")))
    c.download(ns + "f", str(tmp_path / "g"))
    c.list(ns, recursive=True)
    with pytest.raises(StorageError) as info:
        c.download(ns + "missing", str(tmp_path / "h"))
    assert key not in str(info.value)
    assert any(r.name.startswith("azure") for r in caplog.records), "expected the Azure SDK's logs to check"
    assert key not in caplog.text
    assert "SharedKey " + _parts(azure_connection_string)["AccountName"] + ":" not in caplog.text


def test_bad_connection_string_is_refused_without_echoing_it() -> None:
    with pytest.raises(StorageError) as info:
        AzureStorageClient("AccountKey=not-a-valid-connection-string-9f3a", "c")
    assert "9f3a" not in str(info.value)


def test_settings_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(StorageError, match="AZURE_STORAGE_CONNECTION_STRING"):
        AzureStorageClient(container_name="c")
    with pytest.raises(StorageError, match="container_name"):
        AzureStorageClient("UseDevelopmentStorage=true")


def test_environment_and_legacy_path(azure_connection_string: str, ns: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azure_connection_string)
    from dflow.plugins.azure import AzureStorageClient as Legacy  # the import path users know

    c = Legacy(container_name=CONTAINER)
    c.upload(ns + "f", str(_file(tmp_path / "f", b"env")))
    assert c.get_md5(ns + "f") == hashlib.md5(b"env").hexdigest()


def test_account_url_and_key_credential(azure_connection_string: str, ns: str, tmp_path: Path) -> None:
    parts = _parts(azure_connection_string)
    c = AzureStorageClient(container_name=CONTAINER, account_url=parts["BlobEndpoint"],
                           credential={"account_name": parts["AccountName"], "account_key": parts["AccountKey"]})
    c.upload(ns + "f", str(_file(tmp_path / "f", b"url")))
    assert c.list(ns) == [ns + "f"]
    assert parts["AccountKey"] not in repr(vars(c))


def test_plugin_builds_the_client_from_s3_config(azure_connection_string: str, ns: str, tmp_path: Path) -> None:
    from dflow.settings import s3_config

    options = {k: v for k, v in s3_config.items() if k != "storage_client"}
    options.update(azure_connection_string=azure_connection_string, bucket_name=CONTAINER, storage_type="azure",
                   prefix=ns + "root/", azure_secret="az-cred", root="/ignored")
    c = get_storage_factory("azure")(**options)
    assert isinstance(c, AzureStorageClient) and c.k8s_secret == "az-cred" and c.container_name == CONTAINER
    c.upload("f", str(_file(tmp_path / "f", b"via plugin")))
    assert raw_container(azure_connection_string).download_blob(ns + "root/f").readall() == b"via plugin"


def test_prefix_is_a_namespace(azure_connection_string: str, ns: str, tmp_path: Path) -> None:
    c = make_client(azure_connection_string, prefix=ns + "root/")
    c.upload("a/f", str(_file(tmp_path / "f", b"f")))
    assert c.list("", recursive=True) == ["a/f"]
    assert c.list("a/") == ["a/f"]
    c.copy("a", "b")
    assert c.list("", recursive=True) == ["a/f", "b/f"]
    c.delete("a")
    assert c.list("", recursive=True) == ["b/f"]


# ---------------------------------------------------------------------- retries


@pytest.fixture
def proxied(azure_connection_string: str) -> Iterator[Any]:
    proxies: List[DroppingProxy] = []
    endpoint = _parts(azure_connection_string)["BlobEndpoint"]

    def make(drop: int) -> str:
        host, _, path = endpoint.split("://", 1)[1].partition("/")
        proxy = DroppingProxy("http://" + host, drop)
        proxies.append(proxy)
        return azure_connection_string.replace(endpoint, f"{proxy.endpoint}/{path}"), proxy

    yield make
    for p in proxies:
        p.close()


def test_dropped_connections_are_retried(azure_connection_string: str, proxied: Any, ns: str, tmp_path: Path) -> None:
    data = os.urandom(5 * MiB)
    make_client(azure_connection_string).upload(ns + "f", str(_file(tmp_path / "f", data)))
    via, proxy = proxied(2)
    c = make_client(via, max_attempts=4)
    c.download(ns + "f", str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == data
    assert proxy.dropped == 2 and proxy.forwarded >= 1
    via, proxy = proxied(3)
    make_client(via, max_attempts=5).upload(ns + "up", str(tmp_path / "f"))
    assert proxy.dropped == 3
    assert make_client(azure_connection_string).get_md5(ns + "up") == hashlib.md5(data).hexdigest()


def test_no_retries_left_is_a_storage_error(proxied: Any, ns: str) -> None:
    via, proxy = proxied(1000)
    c = make_client(via, max_attempts=2)
    with pytest.raises(StorageError) as info:
        c.get_md5(ns + "f")
    assert ns + "f" in str(info.value)
    assert proxy.dropped == 2 and proxy.forwarded == 0


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
