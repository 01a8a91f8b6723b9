"""OSSClient against the OSS protocol stand-in (a stand-in, not OSS: see oss_standin.py).

The stand-in checks every request's signature and Content-MD5, so these tests
exercise oss2 as it talks to OSS; ``test_oss_real.py`` runs the conformance suite
against real OSS when the ``OSS_*`` variables are set.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import oss2
import pytest

from dflow.errors import StorageError
from dflow.plugins import get_storage_factory
from dflow.testing.services import DroppingProxy
from dflow.testing.storage import StorageClientConformance
from dflow_oss import OSSClient
from dflow_oss.client import MD5_KEY

MiB = 1024 * 1024
BUCKET = "dflow-conformance"


def make_client(server: Dict[str, Any], **overrides: Any) -> OSSClient:
    options: Dict[str, Any] = {
        "endpoint": server["endpoint"],
        "bucket_name": BUCKET,
        "access_key_id": server["access_key_id"],
        "access_key_secret": server["access_key_secret"],
        # small parts and thresholds so that 12 MiB objects take every multipart path
        "multipart_threshold": 5 * MiB,
        "part_size": 2 * MiB,
        "copy_threshold": 5 * MiB,
        "max_concurrency": 4,
        "list_page_size": 25,
    }
    options.update(overrides)
    return OSSClient(**options)


def raw_bucket(server: Dict[str, Any], bucket: str = BUCKET) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(server["access_key_id"], server["access_key_secret"]), server["endpoint"], bucket)


class TestOSSClient(StorageClientConformance):
    __test__ = True

    list_page_keys = 120  # almost five pages of 25
    multipart_size = 12 * MiB

    @pytest.fixture
    def client(self, oss_server: Dict[str, Any]) -> OSSClient:
        return make_client(oss_server)


# ---------------------------------------------------------------------- OSS specifics


@pytest.fixture
def client(oss_server: Dict[str, Any]) -> OSSClient:
    return make_client(oss_server)


@pytest.fixture
def ns() -> str:
    return f"oss-{uuid.uuid4().hex[:12]}/"


def _ops_since(server: Any, mark: int) -> List[str]:
    return server.operations()[mark:]


def _tag(raw: oss2.Bucket, key: str) -> str:
    return raw.get_object_tagging(key).tag_set.tagging_rule.get(MD5_KEY, "")


def test_multipart_upload_is_multipart_and_tags_md5(client: OSSClient, oss_server: Dict[str, Any], ns: str,
                                                    tmp_path: Path) -> None:
    data = os.urandom(11 * MiB + 7)
    (tmp_path / "big").write_bytes(data)
    mark = len(oss_server["server"].operations())
    client.upload(ns + "big", str(tmp_path / "big"))
    ops = _ops_since(oss_server["server"], mark)
    assert ops.count("upload_part") == 6 and "init_upload" in ops and "complete_upload" in ops
    raw = raw_bucket(oss_server)
    head = raw.head_object(ns + "big")
    assert head.object_type == "Multipart"
    assert _tag(raw, ns + "big") == hashlib.md5(data).hexdigest() + ":" + head.etag

    mark = len(oss_server["server"].operations())
    assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()
    assert "get_object" not in _ops_since(oss_server["server"], mark), "get_md5 read the object although its MD5 was kept"


def test_small_upload_keeps_md5_in_metadata(client: OSSClient, oss_server: Dict[str, Any], ns: str,
                                            tmp_path: Path) -> None:
    (tmp_path / "small").write_bytes(b"small")
    client.upload(ns + "small", str(tmp_path / "small"))
    head = raw_bucket(oss_server).head_object(ns + "small")
    assert head.headers["x-oss-meta-dflow-md5"] == hashlib.md5(b"small").hexdigest()


def test_stale_md5_tag_is_not_trusted(client: OSSClient, oss_server: Dict[str, Any], ns: str, tmp_path: Path) -> None:
    """A tag whose ETag part is not the object's (its content changed since) is ignored."""
    data = os.urandom(6 * MiB)
    (tmp_path / "big").write_bytes(data)
    client.upload(ns + "big", str(tmp_path / "big"))
    rule = oss2.models.TaggingRule()
    rule.add(MD5_KEY, "0" * 32 + ":SOMEOTHERETAG-3")
    raw_bucket(oss_server).put_object_tagging(ns + "big", oss2.models.Tagging(rule))
    assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()


def test_md5_of_foreign_multipart_object_is_streamed(client: OSSClient, oss_server: Dict[str, Any], ns: str,
                                                     tmp_path: Path) -> None:
    """An object another tool wrote in parts (no MD5 kept) still gets the right MD5."""
    data = os.urandom(3 * MiB + 5)
    (tmp_path / "big").write_bytes(data)
    raw = raw_bucket(oss_server)
    oss2.resumable_upload(raw, ns + "foreign", str(tmp_path / "big"), multipart_threshold=MiB, part_size=MiB,
                          store=oss2.ResumableStore(root=str(tmp_path / "records")))
    assert raw.head_object(ns + "foreign").object_type == "Multipart"
    assert client.get_md5(ns + "foreign") == hashlib.md5(data).hexdigest()


def test_md5_of_foreign_plain_object_is_its_etag(client: OSSClient, oss_server: Dict[str, Any], ns: str) -> None:
    raw_bucket(oss_server).put_object(ns + "plain", b"plain body")
    mark = len(oss_server["server"].operations())
    assert client.get_md5(ns + "plain") == hashlib.md5(b"plain body").hexdigest()
    assert "get_object" not in _ops_since(oss_server["server"], mark)


def test_big_copy_is_part_by_part_and_keeps_md5(client: OSSClient, oss_server: Dict[str, Any], ns: str,
                                               tmp_path: Path) -> None:
    """Above the stand-in's CopyObject limit (as above OSS's 1 GiB) the copy must use UploadPartCopy."""
    data = os.urandom(9 * MiB)
    (tmp_path / "big").write_bytes(data)
    client.upload(ns + "a/big", str(tmp_path / "big"))
    raw = raw_bucket(oss_server)
    raw.put_object(ns + "a/meta", b"m", headers={"x-oss-meta-colour": "blue"})
    mark = len(oss_server["server"].operations())
    client.copy(ns + "a", ns + "b")
    ops = _ops_since(oss_server["server"], mark)
    assert ops.count("upload_part_copy") == 5 and "copy_object" in ops
    head = raw.head_object(ns + "b/big")
    assert _tag(raw, ns + "b/big") == hashlib.md5(data).hexdigest() + ":" + head.etag
    assert raw.head_object(ns + "b/meta").headers["x-oss-meta-colour"] == "blue"
    assert client.get_md5(ns + "b/big") == hashlib.md5(data).hexdigest()


def test_md5_tag_follows_a_copy_with_a_new_etag(oss_server: Dict[str, Any], ns: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Should CopyObject give the copy a new ETag, the MD5 tag is written anew for it."""
    data = os.urandom(4 * MiB)
    (tmp_path / "big").write_bytes(data)
    c = make_client(oss_server, multipart_threshold=MiB, part_size=MiB)
    c.upload(ns + "big", str(tmp_path / "big"))
    monkeypatch.setattr(oss_server["server"], "copy_changes_etag", True)
    c.copy(ns + "big", ns + "copy")
    raw = raw_bucket(oss_server)
    head = raw.head_object(ns + "copy")
    assert head.etag != raw.head_object(ns + "big").etag
    assert _tag(raw, ns + "copy") == hashlib.md5(data).hexdigest() + ":" + head.etag


def test_failed_multipart_upload_is_aborted(client: OSSClient, oss_server: Dict[str, Any], ns: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A part that cannot be stored fails the upload, leaves no object and no open upload."""
    (tmp_path / "big").write_bytes(os.urandom(7 * MiB))
    real = client.oss2_bucket.upload_part

    def failing(key: str, upload_id: str, number: int, data: bytes, **kwargs: Any) -> Any:
        if number == 3:
            raise oss2.exceptions.ServerError(403, {}, b"", {"Code": "AccessDenied", "Message": "part refused"})
        return real(key, upload_id, number, data, **kwargs)

    monkeypatch.setattr(client.oss2_bucket, "upload_part", failing)
    with pytest.raises(StorageError) as info:
        client.upload(ns + "big", str(tmp_path / "big"))
    assert ns + "big" in str(info.value) and "AccessDenied" in str(info.value)
    assert client.list(ns, recursive=True) == []
    server = oss_server["server"]
    with server.lock:
        assert not [u for u in server.uploads.values() if u.key == ns + "big"], "the multipart upload was not aborted"


def test_listing_pages(client: OSSClient, oss_server: Dict[str, Any], ns: str, tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / "many" / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "many" / f"d{i % 3}" / f"f{i:02d}").write_bytes(b"x")
    client.upload(ns + "m", str(tmp_path / "many"))
    small_pages = make_client(oss_server, list_page_size=2)
    mark = len(oss_server["server"].operations())
    assert len(small_pages.list(ns + "m/", recursive=True)) == 12
    assert _ops_since(oss_server["server"], mark).count("list_objects") == 6
    assert small_pages.list(ns + "m/") == [ns + f"m/d{i}/" for i in range(3)]


def test_missing_key_error_names_key_and_bucket(client: OSSClient, ns: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        client.download(ns + "nope.txt", str(tmp_path / "x"))
    assert ns + "nope.txt" in str(info.value) and BUCKET in str(info.value)


def test_bucket_created_when_missing(oss_server: Dict[str, Any], tmp_path: Path) -> None:
    bucket = f"dflow-new-{uuid.uuid4().hex[:8]}"
    c = make_client(oss_server, bucket_name=bucket)
    (tmp_path / "f").write_bytes(b"f")
    c.upload("k", str(tmp_path / "f"))
    assert c.list("", recursive=True) == ["k"]
    assert raw_bucket(oss_server, bucket).get_object("k").read() == b"f"


def test_missing_bucket_error_names_bucket(oss_server: Dict[str, Any], tmp_path: Path) -> None:
    bucket = f"dflow-absent-{uuid.uuid4().hex[:8]}"
    with pytest.raises(StorageError) as info:
        make_client(oss_server, bucket_name=bucket).download("k", str(tmp_path / "x"))
    assert bucket in str(info.value)


def test_wrong_secret_is_a_storage_error_without_the_secret(oss_server: Dict[str, Any]) -> None:
    wrong = "WRONG-" + uuid.uuid4().hex
    c = make_client(oss_server, access_key_secret=wrong, max_attempts=1)
    with pytest.raises(StorageError) as info:
        c.list("anything/")
    assert "SignatureDoesNotMatch" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(info.value)


def test_secret_never_shown(oss_server: Dict[str, Any], ns: str, tmp_path: Path,
                            caplog: pytest.LogCaptureFixture) -> None:
    secret = oss_server["access_key_secret"]
    caplog.set_level(logging.DEBUG)
    c = make_client(oss_server)
    assert secret not in f"{c!r} {c}" and secret not in repr(vars(c))
    with pytest.raises(TypeError):
        pickle.dumps(c)
    (tmp_path / "f").write_bytes(b"data")
    c.upload(ns + "f", str(tmp_path / "f"))
    c.download(ns + "f", str(tmp_path / "g"))
    c.list(ns, recursive=True)
    with pytest.raises(StorageError) as info:
        c.download(ns + "missing", str(tmp_path / "h"))
    assert secret not in str(info.value)
    assert any(r.name.startswith("oss2") for r in caplog.records), "expected oss2's debug logs to check"
    assert secret not in caplog.text
    # the request signatures are not logged either (oss2 logs request headers)
    assert "OSS " + oss_server["access_key_id"] + ":" not in caplog.text


def test_constructor_reads_the_environment(oss_server: Dict[str, Any], ns: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("OSS_ENDPOINT", oss_server["endpoint"]), ("OSS_BUCKET_NAME", BUCKET),
                        ("OSS_ACCESS_KEY_ID", oss_server["access_key_id"]),
                        ("OSS_ACCESS_KEY_SECRET", oss_server["access_key_secret"])):
        monkeypatch.setenv(name, value)
    from dflow.plugins.oss import OSSClient as Legacy  # the original import path

    c = Legacy()
    (tmp_path / "f").write_bytes(b"env")
    c.upload(ns + "f", str(tmp_path / "f"))
    assert c.get_md5(ns + "f") == hashlib.md5(b"env").hexdigest()


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OSS_ENDPOINT", "OSS_BUCKET_NAME", "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StorageError) as info:
        OSSClient(endpoint="http://127.0.0.1:1", bucket_name="b")
    assert "OSS_ACCESS_KEY_ID" in str(info.value) and "OSS_ACCESS_KEY_SECRET" in str(info.value)
    assert "OSS_ENDPOINT" not in str(info.value)


def test_plugin_builds_the_client_from_s3_config(oss_server: Dict[str, Any], ns: str, tmp_path: Path) -> None:
    from dflow.settings import s3_config

    options = {k: v for k, v in s3_config.items() if k != "storage_client"}
    options.update(endpoint=oss_server["endpoint"], access_key=oss_server["access_key_id"],
                   secret_key=oss_server["access_key_secret"], bucket_name=BUCKET, storage_type="oss",
                   prefix=ns + "root/", oss_secret="oss-cred", root="/ignored")
    c = get_storage_factory("oss")(**options)
    assert isinstance(c, OSSClient) and c.k8s_secret == "oss-cred"
    (tmp_path / "f").write_bytes(b"via plugin")
    c.upload("f", str(tmp_path / "f"))
    assert raw_bucket(oss_server).get_object(ns + "root/f").read() == b"via plugin"


def test_prefix_is_a_namespace(oss_server: Dict[str, Any], ns: str, tmp_path: Path) -> None:
    c = make_client(oss_server, prefix=ns + "root/")
    (tmp_path / "f").write_bytes(b"f")
    c.upload("a/f", str(tmp_path / "f"))
    assert c.list("", recursive=True) == ["a/f"]
    assert c.list("a/") == ["a/f"]
    assert raw_bucket(oss_server).get_object(ns + "root/a/f").read() == b"f"
    c.copy("a", "b")
    assert c.list("", recursive=True) == ["a/f", "b/f"]
    c.delete("a")
    assert c.list("", recursive=True) == ["b/f"]


# ---------------------------------------------------------------------- retries


@pytest.fixture
def proxy_factory(oss_server: Dict[str, Any]) -> Iterator[Any]:
    proxies: List[DroppingProxy] = []

    def make(drop: int) -> DroppingProxy:
        p = DroppingProxy(oss_server["endpoint"], drop)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


def test_dropped_connections_are_retried(oss_server: Dict[str, Any], proxy_factory: Any, ns: str,
                                         tmp_path: Path) -> None:
    data = os.urandom(7 * MiB)
    (tmp_path / "big").write_bytes(data)
    make_client(oss_server).upload(ns + "small", str(tmp_path / "big"))
    for drop in (2,):
        proxy = proxy_factory(drop=drop)
        c = make_client(oss_server, endpoint=proxy.endpoint, max_attempts=4, connect_timeout=5)
        c.download(ns + "small", str(tmp_path / "out"))
        assert (tmp_path / "out").read_bytes() == data
        assert proxy.dropped == drop and proxy.forwarded >= 1
    proxy = proxy_factory(drop=3)
    c = make_client(oss_server, endpoint=proxy.endpoint, max_attempts=5, connect_timeout=5)
    c.upload(ns + "up", str(tmp_path / "big"))
    assert proxy.dropped == 3
    assert c.get_md5(ns + "up") == hashlib.md5(data).hexdigest()


def test_no_retries_left_is_a_storage_error(oss_server: Dict[str, Any], proxy_factory: Any, ns: str) -> None:
    proxy = proxy_factory(drop=1000)
    c = make_client(oss_server, endpoint=proxy.endpoint, max_attempts=2, connect_timeout=5)
    with pytest.raises(StorageError) as info:
        c.get_md5(ns + "f")
    assert ns + "f" in str(info.value)
    assert proxy.dropped == 2 and proxy.forwarded == 0


def test_failed_download_leaves_nothing_behind(client: OSSClient, ns: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A big download that fails part-way leaves neither the target nor oss2's temporary file."""
    (tmp_path / "big").write_bytes(os.urandom(7 * MiB))
    client.upload(ns + "big", str(tmp_path / "big"))
    real = client.oss2_bucket.get_object

    def failing(key: str, byte_range: Any = None, **kwargs: Any) -> Any:
        if byte_range and byte_range[0]:
            raise oss2.exceptions.ServerError(403, {}, b"", {"Code": "AccessDenied", "Message": "range refused"})
        return real(key, byte_range=byte_range, **kwargs)

    monkeypatch.setattr(client.oss2_bucket, "get_object", failing)
    target = tmp_path / "dl" / "big"
    target.parent.mkdir()
    with pytest.raises(StorageError) as info:
        client.download(ns + "big", str(target))
    assert "AccessDenied" in str(info.value)
    assert list(target.parent.iterdir()) == []
