"""``GCSStorageClient``: dflow artifact storage in a Google Cloud Storage bucket.

Files and directory trees (a directory is every object below ``key + "/"``) move
through google-cloud-storage: big files in the SDK's chunked resumable uploads,
checked by the CRC32C the SDK computes while it reads the chunks against the one
Cloud Storage computes (``get_md5`` is the MD5 Cloud Storage keeps of every
object it was sent whole); big
downloads in the SDK's parallel ranged reads (``transfer_manager``), checked by
CRC32C. Transient errors are retried with exponential backoff by the SDK's
retry machinery, uploads included.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterator, List, Optional, Tuple

from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage
from google.cloud.storage import transfer_manager
from google.cloud.storage.retry import DEFAULT_RETRY

from dflow.errors import StorageError
from dflow.storage import ArtifactLocation, SecretRef, StorageClient, checked_key, files_to_upload, run_concurrently

__all__ = ["GCSStorageClient"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
#: the key of the service-account JSON in the Kubernetes secret that ``k8s_secret`` names
SECRET_SERVICE_ACCOUNT_KEY = "serviceAccountKey"


class GCSStorageClient(StorageClient):
    """Artifact storage in one Google Cloud Storage bucket.

    Credentials are Google's usual ones (``GOOGLE_APPLICATION_CREDENTIALS``, the
    gcloud login, a workload identity) unless ``credentials`` or
    ``credentials_file`` is given. With ``STORAGE_EMULATOR_HOST`` set the client
    talks to that emulator without credentials, as the Google client does.

    :param bucket_name: the bucket; created on the first write when missing.
    :param project: the project (for creating the bucket); else the credentials'.
    :param credentials: a ``google.auth`` credentials object.
    :param credentials_file: path of a service-account JSON key file.
    :param api_endpoint: another endpoint than ``https://storage.googleapis.com``.
    :param anonymous: send no credentials (public buckets, emulators).
    :param prefix: a namespace inside the bucket, put in front of every key given
        to this client; ``list`` returns keys without it.
    :param chunk_size: size of one ranged read of a parallel download.
    :param upload_chunk_size: size of one chunk of a resumable upload (a multiple
        of 256 KiB); the SDK's 100 MiB when ``None``. A failed chunk is sent again
        from where GCS says the upload stands.
    :param multipart_threshold: files at least this big go in parallel ranged reads
        (downloads) and resumable uploads.
    :param max_concurrency: parallel requests of one transfer.
    :param backoff: seconds before the first retry (then doubling, up to 30 s).
    :param retry_deadline: seconds after which a failing request is given up.
    :param timeout: seconds to wait for an answer (connect and read).
    :param list_page_size: objects per listing request (GCS allows up to 1000).
    :param k8s_secret: name of a Kubernetes secret whose ``serviceAccountKey``
        holds a service-account JSON key; with it, :meth:`artifact_location` gives
        cluster backends a full location (bucket, the secret's name), else a
        key-only one.
    """

    def __init__(
        self,
        bucket_name: Optional[str] = None,
        project: Optional[str] = None,
        credentials: Any = None,
        *,
        credentials_file: Optional[str] = None,
        api_endpoint: Optional[str] = None,
        anonymous: bool = False,
        prefix: Optional[str] = "",
        chunk_size: int = 16 * MiB,
        upload_chunk_size: Optional[int] = None,
        multipart_threshold: int = 32 * MiB,
        max_concurrency: int = 8,
        backoff: float = 0.5,
        retry_deadline: float = 120.0,
        timeout: float = 120.0,
        list_page_size: int = 1000,
        k8s_secret: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        if not bucket_name:
            raise StorageError("GCSStorageClient needs a bucket_name (s3_config['bucket_name'])")
        if chunk_size <= 0:
            raise StorageError(f"GCSStorageClient chunk_size must be positive, got {chunk_size}")
        if upload_chunk_size is not None and (upload_chunk_size <= 0 or upload_chunk_size % (256 * 1024)):
            raise StorageError(f"GCSStorageClient upload_chunk_size must be a multiple of 256 KiB, got {upload_chunk_size}")
        if not 1 <= list_page_size <= 1000:
            raise StorageError(f"GCSStorageClient list_page_size must be between 1 and 1000, got {list_page_size}")
        if credentials is None and credentials_file:
            from google.oauth2 import service_account

            try:
                credentials = service_account.Credentials.from_service_account_file(credentials_file)
            except (OSError, ValueError, GoogleAuthError) as exc:
                raise StorageError(f"cannot read the service-account key file {credentials_file!r}: "
                                   f"{type(exc).__name__}") from None
        if anonymous and credentials is None:
            credentials = AnonymousCredentials()
        options: Dict[str, Any] = {}
        if api_endpoint:
            options["client_options"] = {"api_endpoint": api_endpoint.rstrip("/")}
            options["use_auth_w_custom_endpoint"] = not anonymous
        try:
            self._client = storage.Client(project=project, credentials=credentials, **options)
        except (GoogleAuthError, ValueError) as exc:
            raise StorageError(
                f"GCSStorageClient found no usable Google credentials ({type(exc).__name__}): set "
                "GOOGLE_APPLICATION_CREDENTIALS, give credentials_file, or STORAGE_EMULATOR_HOST for an emulator"
            ) from None
        self.bucket_name = bucket_name
        self.prefix = prefix or ""
        self.chunk_size = chunk_size
        self.upload_chunk_size = upload_chunk_size
        self.multipart_threshold = multipart_threshold
        self.max_concurrency = max(1, max_concurrency)
        self.list_page_size = list_page_size
        self.k8s_secret = k8s_secret or None
        self.endpoint = (api_endpoint or os.environ.get("STORAGE_EMULATOR_HOST") or "https://storage.googleapis.com")
        self._timeout = timeout
        # every call, uploads included: resending a whole object or chunk is safe here
        self._retry = DEFAULT_RETRY.with_delay(initial=backoff, multiplier=2.0, maximum=30.0).with_timeout(retry_deadline)
        self._bucket = self._client.bucket(bucket_name)
        self._bucket_ready = False

    # ------------------------------------------------------------------ helpers

    def __repr__(self) -> str:
        return f"GCSStorageClient(bucket_name={self.bucket_name!r}, endpoint={self.endpoint!r}, prefix={self.prefix!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("GCSStorageClient holds credentials and cannot be pickled; build a new one from its settings")

    @property
    def gcs_bucket(self) -> storage.Bucket:
        """The underlying ``google.cloud.storage.Bucket``, for operations this class does not offer."""
        return self._bucket

    def _where(self) -> str:
        return f"GCS bucket {self.bucket_name!r} at {self.endpoint}"

    def _error(self, what: str, key: str, exc: BaseException) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        cause = exc.cause if isinstance(exc, api_exceptions.RetryError) and exc.cause else exc
        code = getattr(cause, "code", None)
        message = getattr(cause, "message", None) or str(cause)
        detail = f"{code} {type(cause).__name__}: {message}" if code else f"{type(cause).__name__}: {message}"
        detail = detail[:300]
        if isinstance(cause, api_exceptions.NotFound) and "bucket" not in message.lower():
            return StorageError(f"cannot {what} key {key!r}: no such object in {self._where()} ({detail})")
        return StorageError(f"cannot {what} key {key!r} in {self._where()}: {detail}")

    def _full(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix):]

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            if not self._bucket.exists(retry=self._retry, timeout=self._timeout):
                try:
                    self._client.create_bucket(self.bucket_name, retry=self._retry, timeout=self._timeout)
                    logger.info("created %s", self._where())
                except api_exceptions.Conflict:
                    pass
        except Exception as exc:  # noqa: BLE001
            raise self._error("create the bucket for", "", exc) from exc
        self._bucket_ready = True

    def _blob(self, full_key: str) -> Optional[storage.Blob]:
        """The object's metadata, ``None`` when no object has exactly that key."""
        try:
            return self._bucket.get_blob(full_key, retry=self._retry, timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001
            raise self._error("read", self._rel(full_key), exc) from exc

    def _iter(self, full_prefix: str, delimiter: Optional[str]) -> Iterator[Tuple[str, Any]]:
        """``("object", Blob)`` and ``("prefix", name)`` items of every page."""
        try:
            pages = self._client.list_blobs(self._bucket, prefix=full_prefix or None, delimiter=delimiter,
                                            page_size=self.list_page_size, retry=self._retry,
                                            timeout=self._timeout).pages
            for page in pages:
                for blob in page:
                    yield "object", blob
                for sub in page.prefixes:
                    yield "prefix", sub
        except Exception as exc:  # noqa: BLE001
            raise self._error("list", self._rel(full_prefix) or "(bucket root)", exc) from exc

    def _tree(self, key: str, what: str) -> Tuple[str, Optional[storage.Blob], List[storage.Blob]]:
        """``(full key, the object or None, objects below key/)``; refuses a key with neither."""
        full = self._full(key).rstrip("/")
        blob = self._blob(full) if not key.endswith("/") else None
        below = [] if blob is not None else [
            b for kind, b in self._iter(full + "/", None) if kind == "object" and not b.name.endswith("/")]
        if blob is None and not below:
            raise StorageError(f"cannot {what} key {key!r}: no such object or prefix in {self._where()}")
        return full, blob, below

    def _run(self, what: str, jobs: List[Tuple[str, Any]]) -> None:
        """Run ``(full key, callable)`` jobs concurrently; the first failure is raised."""
        run_concurrently(jobs, self.max_concurrency, lambda k, e: self._error(what, self._rel(k), e), "dflow-gcs")

    # ------------------------------------------------------------------ StorageClient

    def upload(self, key: str, path: str) -> None:
        """Store the file at ``path`` under ``key``, or every file of the directory
        ``path`` under ``key/<relative path>``."""
        files = files_to_upload(path, self._full(key), key)
        self._ensure_bucket()
        self._run("upload", [(k, lambda f=f, k=k: self._put(f, k)) for f, k in files
                             if f.stat().st_size < self.multipart_threshold])
        for file, full_key in files:
            if file.stat().st_size >= self.multipart_threshold:
                try:
                    self._put(file, full_key)
                except Exception as exc:  # noqa: BLE001
                    raise self._error("upload", self._rel(full_key), exc) from exc

    def _put(self, file: Path, full_key: str) -> None:
        blob = self._bucket.blob(full_key, chunk_size=self.upload_chunk_size)
        # checksum: the SDK computes the CRC32C of what it sends (in the pass that reads the
        # file) and compares it with the one GCS computed, so the md5Hash GCS keeps is that
        # of the bytes sent
        blob.upload_from_filename(str(file), checksum="crc32c", retry=self._retry, timeout=self._timeout)

    def download(self, key: str, path: str) -> None:
        """Write the object ``key`` to the file ``path``, or every object below ``key/``
        to ``path/<relative path>``. Parent directories are created; a file appears
        only complete (written to a temporary name, then renamed)."""
        full, blob, below = self._tree(key, "download")
        dst = Path(path)
        if blob is not None:
            targets = [(blob, dst)]
        else:
            root = dst.resolve()
            targets = []
            for b in below:
                target = (dst / PurePosixPath(b.name[len(full) + 1:])).resolve()
                if root != target and root not in target.parents:
                    raise StorageError(f"refusing to download {self._rel(b.name)!r}: it would land outside {str(dst)!r}")
                targets.append((b, target))
        self._run("download", [(b.name, lambda b=b, t=t: self._get(b, t)) for b, t in targets
                               if (b.size or 0) < self.multipart_threshold])
        for b, t in targets:
            if (b.size or 0) >= self.multipart_threshold:
                try:
                    self._get(b, t)
                except Exception as exc:  # noqa: BLE001
                    raise self._error("download", self._rel(b.name), exc) from exc

    def _get(self, blob: storage.Blob, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-dflow-{uuid.uuid4().hex}"
        # every read must get the generation that was listed: no mix of old and new content
        pin = {"if_generation_match": blob.generation, "retry": self._retry, "timeout": self._timeout}
        try:
            if (blob.size or 0) >= self.multipart_threshold:
                transfer_manager.download_chunks_concurrently(
                    blob, str(tmp), chunk_size=self.chunk_size, max_workers=self.max_concurrency,
                    worker_type=transfer_manager.THREAD, crc32c_checksum=True, download_kwargs=pin)
            else:
                blob.download_to_filename(str(tmp), checksum="crc32c", **pin)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        """Keys starting with ``prefix``; without ``recursive``, objects directly
        below it and the sub-prefixes (ending in ``/``) one level down.

        A ``prefix`` that is exactly the key of an object (and does not end in
        ``/``) gives just that key, as :class:`dflow.storage.LocalStorageClient` does.
        """
        checked_key(prefix or "", prefix=True)
        full_prefix = self.prefix + (prefix or "")
        result = set()
        for kind, item in self._iter(full_prefix, None if recursive else "/"):
            name = item.name if kind == "object" else item
            if prefix and name == full_prefix and not prefix.endswith("/"):
                return [prefix]
            result.add(self._rel(name))
        return sorted(result)

    def copy(self, src: str, dst: str) -> None:
        """Copy the object ``src`` to ``dst``, or every object below ``src/`` to the same
        relative place below ``dst/``, on the server (rewrite, in as many calls as
        GCS needs for big objects). Metadata and the MD5 go along."""
        full_src, blob, below = self._tree(src, "copy")
        full_dst = self._full(dst).rstrip("/")
        pairs = [(blob, full_dst)] if blob is not None else [(b, full_dst + b.name[len(full_src):]) for b in below]
        self._ensure_bucket()
        self._run("copy", [(b.name, lambda b=b, d=d: self._copy_one(b, d)) for b, d in pairs])

    def _copy_one(self, source: storage.Blob, full_dst: str) -> None:
        target = self._bucket.blob(full_dst)
        token, _, _ = target.rewrite(source, retry=self._retry, timeout=self._timeout)
        while token:
            token, _, _ = target.rewrite(source, token=token, retry=self._retry, timeout=self._timeout)

    def get_md5(self, key: str) -> str:
        """MD5 hex digest of the object's content: GCS's own ``md5Hash`` (every object
        but composite ones has it); else by streaming the object."""
        full = self._full(key)
        blob = self._blob(full)
        if blob is None:
            raise StorageError(f"cannot get the MD5 of key {key!r}: no such object in {self._where()}")
        if blob.md5_hash:
            return base64.b64decode(blob.md5_hash).hex()
        digest = hashlib.md5()
        try:
            with blob.open("rb", chunk_size=self.chunk_size, retry=self._retry,
                           if_generation_match=blob.generation) as stream:
                for chunk in iter(lambda: stream.read(self.chunk_size), b""):
                    digest.update(chunk)
        except Exception as exc:  # noqa: BLE001
            raise self._error("read", key, exc) from exc
        return digest.hexdigest()

    def artifact_location(self, key: str) -> ArtifactLocation:
        """Argo's ``gcs`` location of ``key``: key-only unless ``k8s_secret`` is set;
        then the bucket and the secret's name (never its value)."""
        full = self._full(key)
        if not self.k8s_secret:
            return ArtifactLocation("gcs", {"key": full})
        return ArtifactLocation("gcs", {"bucket": self.bucket_name, "key": full},
                                {"serviceAccountKeySecret": SecretRef(self.k8s_secret, SECRET_SERVICE_ACCOUNT_KEY)})

    # ------------------------------------------------------------------ extras

    def delete(self, key: str) -> None:
        """Delete the object ``key``, or every object below ``key/``."""
        full = self._full(key).rstrip("/")
        names = [full] if self._blob(full) is not None else [
            b.name for kind, b in self._iter(full + "/", None) if kind == "object"]
        self._run("delete", [(n, lambda n=n: self._bucket.delete_blob(n, retry=self._retry, timeout=self._timeout))
                             for n in names])
