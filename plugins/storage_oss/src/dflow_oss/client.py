"""``OSSClient``: dflow artifact storage in an Aliyun OSS bucket, through oss2.

Files and directory trees (a directory is every object below ``key + "/"``)
move through oss2: big files in parallel multipart uploads that hash the file
while its parts are read, downloads in parallel ranged reads
(``oss2.resumable_download``). The MD5 of every uploaded file is kept with the
object (metadata for single-request uploads, a tag for multipart ones), because
the ETag of a multipart object is not an MD5 of its content.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import re
import tempfile
import threading
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, List, Optional, Tuple

import oss2

from dflow.errors import StorageError
from dflow.storage import ArtifactLocation, Secret, SecretRef, StorageClient, checked_key, files_to_upload

from .transfer import MultipartUpload, Retrier, stream_md5

__all__ = ["OSSClient"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024

#: the MD5 of the content: user metadata ``x-oss-meta-dflow-md5`` (single-request
#: uploads) or the object tag ``dflow-md5`` = ``<md5>:<etag>`` (multipart uploads,
#: whose metadata is sent before the content has been read)
MD5_KEY = "dflow-md5"
_META_MD5 = "x-oss-meta-" + MD5_KEY
#: names of the keys in the Kubernetes secret that ``k8s_secret`` names
SECRET_ACCESS_KEY, SECRET_SECRET_KEY = "accessKey", "secretKey"

_MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NotFound"}


class _RedactAuthorization(logging.Filter):
    """oss2 logs request headers at DEBUG; the signature in them must not reach a log."""

    _pattern = re.compile(r"('authorization':\s*')[^']*(')", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "uthorization" in record.msg:
            record.msg = self._pattern.sub(r"\1***\2", record.msg)
        return True


logging.getLogger("oss2.http").addFilter(_RedactAuthorization())


def _env(value: Optional[str], name: str) -> Optional[str]:
    return value if value else (os.environ.get(name) or None)


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "code", "") or "")


class OSSClient(StorageClient):
    """Artifact storage in one Aliyun OSS bucket.

    The first four parameters are those of the original dflow's ``OSSClient``,
    each read from its environment variable when not given.

    :param endpoint: the OSS endpoint, like ``https://oss-cn-hangzhou.aliyuncs.com``
        (``OSS_ENDPOINT``); without a scheme oss2 uses ``http``.
    :param bucket_name: the bucket (``OSS_BUCKET_NAME``); created on the first write when missing.
    :param access_key_id: the AccessKey id (``OSS_ACCESS_KEY_ID``).
    :param access_key_secret: the AccessKey secret (``OSS_ACCESS_KEY_SECRET``);
        never shown in ``repr``, messages or logs.
    :param prefix: a namespace inside the bucket, put in front of every key given
        to this client; ``list`` returns keys without it.
    :param multipart_threshold: files at least this big go in parallel multipart uploads.
    :param part_size: size of one part (uploads, copies and downloads).
    :param max_concurrency: parallel requests of one transfer.
    :param max_attempts: attempts of one request on transient errors (connection
        failures, timeouts, throttling, 5xx), with exponential backoff.
    :param connect_timeout: seconds to open a connection (oss2 uses it for reads too).
    :param list_page_size: objects per listing request (OSS allows up to 1000).
    :param copy_threshold: objects bigger than this are copied part by part
        (UploadPartCopy); OSS's CopyObject takes at most 1 GiB.
    :param k8s_secret: name of a Kubernetes secret holding ``accessKey`` and
        ``secretKey``; with it, :meth:`artifact_location` gives cluster backends a
        full location (endpoint, bucket, the secret's name), else a key-only one.
    :param cluster_endpoint: the endpoint pods use, when it differs from
        ``endpoint`` (an internal OSS endpoint, say).
    """

    def __init__(
        self,
        endpoint: Optional[str] = None,
        bucket_name: Optional[str] = None,
        access_key_id: Optional[str] = None,
        access_key_secret: Optional[str] = None,
        *,
        prefix: Optional[str] = "",
        multipart_threshold: int = 32 * MiB,
        part_size: int = 16 * MiB,
        max_concurrency: int = 8,
        max_attempts: int = 5,
        connect_timeout: float = 60.0,
        list_page_size: int = 1000,
        copy_threshold: int = 1024 * MiB,
        k8s_secret: Optional[str] = None,
        cluster_endpoint: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        endpoint = _env(endpoint, "OSS_ENDPOINT")
        bucket_name = _env(bucket_name, "OSS_BUCKET_NAME")
        access_key_id = _env(access_key_id, "OSS_ACCESS_KEY_ID")
        secret = _env(access_key_secret, "OSS_ACCESS_KEY_SECRET")
        missing = [name for name, value in (("endpoint (OSS_ENDPOINT)", endpoint),
                                            ("bucket_name (OSS_BUCKET_NAME)", bucket_name),
                                            ("access_key_id (OSS_ACCESS_KEY_ID)", access_key_id),
                                            ("access_key_secret (OSS_ACCESS_KEY_SECRET)", secret)) if not value]
        if missing:
            raise StorageError(f"OSSClient needs {', '.join(missing)}: pass them or set the environment variables")
        if not 100 * 1024 <= part_size <= 5 * 1024 * MiB:
            raise StorageError(f"OSSClient part_size must be between 100 KiB and 5 GiB, got {part_size}")
        if not 1 <= list_page_size <= 1000:
            raise StorageError(f"OSSClient list_page_size must be between 1 and 1000, got {list_page_size}")
        self.endpoint = str(endpoint).rstrip("/")
        self.bucket_name = str(bucket_name)
        self.access_key_id = access_key_id
        self._secret = Secret(secret)
        self.prefix = prefix or ""
        self.multipart_threshold = max(multipart_threshold, 1)
        self.part_size = part_size
        self.max_concurrency = max(1, max_concurrency)
        self.list_page_size = list_page_size
        self.copy_threshold = copy_threshold
        self.k8s_secret = k8s_secret or None
        self.cluster_endpoint = cluster_endpoint or None
        self._retry = Retrier(max_attempts)
        self._bucket = oss2.Bucket(
            oss2.Auth(access_key_id, secret),
            self.endpoint,
            self.bucket_name,
            connect_timeout=connect_timeout,
            session=oss2.Session(pool_size=2 * self.max_concurrency + 2),
            # parts carry Content-MD5, which OSS checks; the CRC64 would be a second hash of every byte
            enable_crc=False,
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    # ------------------------------------------------------------------ helpers

    def __repr__(self) -> str:
        return (f"OSSClient(endpoint={self.endpoint!r}, bucket_name={self.bucket_name!r}, "
                f"prefix={self.prefix!r}, access_key_id={self.access_key_id!r})")

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("OSSClient holds credentials and cannot be pickled; build a new one from its settings")

    @property
    def oss2_bucket(self) -> oss2.Bucket:
        """The underlying ``oss2.Bucket``, for operations this class does not offer."""
        return self._bucket

    def _where(self) -> str:
        return f"OSS bucket {self.bucket_name!r} at {self.endpoint}"

    def _error(self, what: str, key: str, exc: BaseException) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, oss2.exceptions.OssError):
            detail = f"{exc.status} {_code(exc) or type(exc).__name__}: {getattr(exc, 'message', '') or ''}".rstrip(": ")
        else:
            detail = f"{type(exc).__name__}: {exc}"
        if _code(exc) in ("NoSuchKey", "NotFound"):
            return StorageError(f"cannot {what} key {key!r}: no such object in {self._where()} ({detail})")
        return StorageError(f"cannot {what} key {key!r} in {self._where()}: {detail}")

    def _full(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix):]

    def _call(self, what: str, full_key: str, fn: Any) -> Any:
        """``fn()`` with retries; any failure becomes a StorageError naming the key."""
        try:
            return self._retry(fn, f"{what} {full_key!r}")
        except Exception as exc:  # noqa: BLE001 - mapped to StorageError
            raise self._error(what, self._rel(full_key), exc) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                self._retry(lambda: self._bucket.list_objects(max_keys=1), "checking the bucket")
            except oss2.exceptions.NoSuchBucket:
                self._call("create the bucket for", "", lambda: self._bucket.create_bucket())
                logger.info("created %s", self._where())
            except Exception as exc:  # noqa: BLE001
                raise self._error("check the bucket for", "", exc) from exc
            self._bucket_ready = True

    def _head(self, full_key: str) -> Optional[Any]:
        """``HeadObject`` of one object, ``None`` when no object has exactly that key."""
        try:
            return self._retry(lambda: self._bucket.head_object(full_key), f"head {full_key!r}")
        except oss2.exceptions.NotFound as exc:
            if _code(exc) == "NoSuchBucket":
                raise self._error("read", self._rel(full_key), exc) from exc
            return None
        except Exception as exc:  # noqa: BLE001
            raise self._error("read", self._rel(full_key), exc) from exc

    def _iter(self, full_prefix: str, delimiter: str = "") -> Iterator[Tuple[str, Any]]:
        """``("object", SimplifiedObjectInfo)`` and ``("prefix", key)`` items of every page."""
        marker = ""
        while True:
            page = self._call(
                "list", full_prefix or "(bucket root)",
                lambda m=marker: self._bucket.list_objects(full_prefix, delimiter, m, self.list_page_size),
            )
            for obj in page.object_list:
                yield "object", obj
            for sub in page.prefix_list:
                yield "prefix", sub
            if not page.is_truncated:
                return
            marker = page.next_marker

    def _objects_below(self, full_dir: str) -> List[Any]:
        return [o for kind, o in self._iter(full_dir) if kind == "object" and not o.key.endswith("/")]

    def _tree(self, key: str, what: str) -> Tuple[str, Optional[Any], List[Any]]:
        """``(full key, head of the object or None, objects below key/)``; refuses a key with neither."""
        full = self._full(key).rstrip("/")
        head = self._head(full) if not key.endswith("/") else None
        below = [] if head is not None else self._objects_below(full + "/")
        if head is None and not below:
            raise StorageError(f"cannot {what} key {key!r}: no such object or prefix in {self._where()}")
        return full, head, below

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        return concurrent.futures.ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="dflow-oss")

    # ------------------------------------------------------------------ StorageClient

    def upload(self, key: str, path: str) -> None:
        """Store the file at ``path`` under ``key``, or every file of the directory
        ``path`` under ``key/<relative path>``."""
        files = files_to_upload(path, self._full(key), key)
        self._ensure_bucket()
        small = [(f, k) for f, k in files if f.stat().st_size < self.multipart_threshold]
        with self._pool() as pool:
            _wait_all([pool.submit(self._put_small, f, k) for f, k in small])
        for file, full_key in files:
            if file.stat().st_size >= self.multipart_threshold:
                self._put_multipart(file, full_key)

    def _put_small(self, file: Path, full_key: str) -> None:
        with open(file, "rb") as f:
            data = f.read()
        md5 = hashlib.md5(data)
        # OSS checks Content-MD5 and refuses a body damaged on the way
        headers = {"Content-MD5": oss2.utils.b64encode_as_string(md5.digest()), _META_MD5: md5.hexdigest()}
        self._call("upload", full_key, lambda: self._bucket.put_object(full_key, data, headers=headers))

    def _put_multipart(self, file: Path, full_key: str) -> None:
        upload = MultipartUpload(self._bucket, self._retry, full_key, self.part_size, self.max_concurrency)
        try:
            etag, md5 = upload.upload_file(str(file), headers=None)
        except Exception as exc:  # noqa: BLE001
            raise self._error("upload", self._rel(full_key), exc) from exc
        self._tag_md5(full_key, md5, etag)

    def _tag_md5(self, full_key: str, md5: str, etag: str) -> None:
        """Keep ``md5`` in the tag ``dflow-md5`` as ``<md5>:<etag>``: the ETag ties it to
        this very content. Best effort: without it :meth:`get_md5` reads the object."""
        rule = oss2.models.TaggingRule()
        rule.add(MD5_KEY, f"{md5}:{etag.strip(chr(34))}")
        try:
            self._retry(lambda: self._bucket.put_object_tagging(full_key, oss2.models.Tagging(rule)), "tagging")
        except Exception as exc:  # noqa: BLE001
            logger.info("could not tag %r with its MD5 (%s); get_md5 will read the object",
                        self._rel(full_key), type(exc).__name__)

    def _tagged_md5(self, full_key: str, etag: str) -> Optional[str]:
        try:
            rules = self._retry(lambda: self._bucket.get_object_tagging(full_key), "reading tags").tag_set.tagging_rule
        except Exception:  # noqa: BLE001 - no tag means: read the object
            return None
        md5, _, tagged_etag = str(rules.get(MD5_KEY, "")).partition(":")
        if _MD5_RE.match(md5) and tagged_etag.upper() == etag.strip('"').upper():
            return md5.lower()
        return None

    def download(self, key: str, path: str) -> None:
        """Write the object ``key`` to the file ``path``, or every object below
        ``key/`` to ``path/<relative path>``. Parent directories are created; a
        file appears only complete (written to a temporary name, then renamed)."""
        full, head, below = self._tree(key, "download")
        dst = Path(path)
        if head is not None:
            targets = [(full, dst, head.content_length)]
        else:
            root = dst.resolve()
            targets = []
            for obj in below:
                target = (dst / PurePosixPath(obj.key[len(full) + 1:])).resolve()
                if root != target and root not in target.parents:
                    raise StorageError(f"refusing to download {self._rel(obj.key)!r}: it would land outside {str(dst)!r}")
                targets.append((obj.key, target, obj.size))
        big = [t for t in targets if t[2] >= self.multipart_threshold]
        with self._pool() as pool:
            _wait_all([pool.submit(self._get, k, t, False) for k, t, size in targets if size < self.multipart_threshold])
        for k, t, _ in big:
            self._get(k, t, True)

    def _get(self, full_key: str, target: Path, parallel: bool) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-dflow-{uuid.uuid4().hex}"
        try:
            if parallel:
                # oss2 keeps the parts done in a checkpoint record, so a retry resumes
                with tempfile.TemporaryDirectory(prefix="dflow-oss-") as records:
                    store = oss2.ResumableDownloadStore(root=records)
                    self._call("download", full_key, lambda: oss2.resumable_download(
                        self._bucket, full_key, str(tmp), multiget_threshold=0, part_size=self.part_size,
                        num_threads=self.max_concurrency, store=store))
            else:
                self._call("download", full_key, lambda: self._bucket.get_object_to_file(full_key, str(tmp)))
            os.replace(tmp, target)
        finally:
            # oss2 writes to <tmp><suffix> first: nothing half-written may stay behind
            for leftover in target.parent.glob(tmp.name + "*"):
                _remove(leftover)

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        """Keys starting with ``prefix``; without ``recursive``, objects directly
        below it and the sub-prefixes (ending in ``/``) one level down.

        A ``prefix`` that is exactly the key of an object (and does not end in
        ``/``) gives just that key, as :class:`dflow.storage.LocalStorageClient` does.
        """
        checked_key(prefix or "", prefix=True)
        full_prefix = self.prefix + (prefix or "")
        result = set()
        for kind, item in self._iter(full_prefix, "" if recursive else "/"):
            full_key = item.key if kind == "object" else item
            if prefix and full_key == full_prefix and not prefix.endswith("/"):
                return [prefix]
            result.add(self._rel(full_key))
        return sorted(result)

    def copy(self, src: str, dst: str) -> None:
        """Copy the object ``src`` to ``dst``, or every object below ``src/`` to the
        same relative place below ``dst/``, on the server. Metadata and the stored
        MD5 go along."""
        full_src, head, below = self._tree(src, "copy")
        full_dst = self._full(dst).rstrip("/")
        if head is not None:
            pairs = [(full_src, full_dst, head.content_length, str(head.etag))]
        else:
            pairs = [(o.key, full_dst + o.key[len(full_src):], o.size, str(o.etag)) for o in below]
        self._ensure_bucket()
        with self._pool() as pool:
            _wait_all([pool.submit(self._copy_one, s, d, etag) for s, d, size, etag in pairs
                       if size <= self.copy_threshold])
        for s, d, size, _ in pairs:
            if size > self.copy_threshold:
                self._copy_big(s, d)

    def _copy_one(self, full_src: str, full_dst: str, src_etag: str) -> None:
        result = self._call("copy", full_src,
                            lambda: self._bucket.copy_object(self.bucket_name, full_src, full_dst))
        # CopyObject keeps metadata and tags; the MD5 tag must follow a changed ETag
        if str(result.etag).strip('"') != src_etag.strip('"'):
            md5 = self._tagged_md5(full_src, src_etag)
            if md5:
                self._tag_md5(full_dst, md5, result.etag)

    def _copy_big(self, full_src: str, full_dst: str) -> None:
        head = self._head(full_src)
        if head is None:
            raise StorageError(f"cannot copy key {self._rel(full_src)!r}: no such object in {self._where()}")
        # a multipart copy makes a new object: carry metadata over
        headers = {k: v for k, v in head.headers.items() if k.lower().startswith("x-oss-meta-")}
        if head.headers.get("Content-Type"):
            headers["Content-Type"] = head.headers["Content-Type"]
        md5 = self._known_md5(full_src, head)
        upload = MultipartUpload(self._bucket, self._retry, full_dst, self.part_size, self.max_concurrency)
        try:
            etag = upload.copy_object(self.bucket_name, full_src, head.content_length, headers)
        except Exception as exc:  # noqa: BLE001
            raise self._error("copy", self._rel(full_src), exc) from exc
        if md5:
            self._tag_md5(full_dst, md5, etag)

    def _known_md5(self, full_key: str, head: Any) -> Optional[str]:
        """The MD5 of an object without reading it: metadata, a plain-MD5 ETag, or the tag."""
        stored = str(head.headers.get(_META_MD5, ""))
        if _MD5_RE.match(stored):
            return stored.lower()
        etag = str(head.etag).strip('"')
        encrypted = head.headers.get("x-oss-server-side-encryption", "").upper() == "KMS"
        if head.object_type == "Normal" and _MD5_RE.match(etag) and not encrypted:
            return etag.lower()
        return self._tagged_md5(full_key, etag)

    def get_md5(self, key: str) -> str:
        """MD5 hex digest of the object's content: from the metadata or the tag stored
        at upload, or a plain ETag; else by streaming the object."""
        full = self._full(key)
        head = self._head(full)
        if head is None:
            raise StorageError(f"cannot get the MD5 of key {key!r}: no such object in {self._where()}")
        return self._known_md5(full, head) or self._call(
            "read", full,
            lambda: stream_md5(self._bucket, self._retry, full, head.content_length, str(head.etag).strip('"')))

    def artifact_location(self, key: str) -> ArtifactLocation:
        """Argo's ``oss`` location of ``key``: key-only unless ``k8s_secret`` is set;
        then endpoint, bucket and the secret's name (never its value)."""
        full = self._full(key)
        if not self.k8s_secret:
            return ArtifactLocation("oss", {"key": full})
        return ArtifactLocation(
            "oss",
            {"endpoint": self.cluster_endpoint or self.endpoint, "bucket": self.bucket_name, "key": full},
            {"accessKeySecret": SecretRef(self.k8s_secret, SECRET_ACCESS_KEY),
             "secretKeySecret": SecretRef(self.k8s_secret, SECRET_SECRET_KEY)},
        )

    # ------------------------------------------------------------------ extras

    def delete(self, key: str) -> None:
        """Delete the object ``key``, or every object below ``key/``."""
        full = self._full(key).rstrip("/")
        keys = [full] if self._head(full) is not None else [o.key for o in self._objects_below(full + "/")]
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            self._call("delete", batch[0], lambda b=batch: self._bucket.batch_delete_objects(b))


def _wait_all(futures: List[concurrent.futures.Future]) -> None:
    """Wait for every future; on the first failure cancel the rest and raise it."""
    for future in concurrent.futures.as_completed(futures):
        exc = future.exception()
        if exc is not None:
            for other in futures:
                other.cancel()
            raise exc


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

