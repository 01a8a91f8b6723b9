"""``AzureStorageClient``: dflow artifact storage in an Azure Blob Storage container.

Files and directory trees (a directory is every blob below ``key + "/"``) move
through azure-storage-blob: big files as block blobs whose blocks the SDK uploads
in parallel, downloads in parallel ranged reads. The MD5 of every uploaded file is
kept as the blob's standard ``Content-MD5`` property: it is computed from the
reads that feed the blocks, and set once the blocks are committed (Azure keeps
no MD5 of a block blob by itself).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import queue
import random
import threading
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterator, List, Optional, Tuple

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobPrefix, BlobServiceClient, ContentSettings, ExponentialRetry

from dflow.errors import StorageError
from dflow.storage import (
    ArtifactLocation,
    Secret,
    SecretRef,
    StorageClient,
    checked_key,
    files_to_upload,
    run_concurrently,
)

__all__ = ["AzureStorageClient"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
#: the key of the account key in the Kubernetes secret that ``k8s_secret`` names
SECRET_ACCOUNT_KEY = "accountKey"


class _HashingReader(io.RawIOBase):
    """Reads a file in order and hashes what it hands out, on a thread of its own.

    It says it cannot seek, so the SDK reads the blocks one after another (the hash
    sees the bytes in file order, in the pass that feeds the upload) and uploads them
    in parallel. Hashing runs beside the reading (at most ``depth`` blocks wait for
    it), so the reading is not held up by it. Leaving the ``with`` block stops it.
    """

    def __init__(self, f: Any, depth: int = 4) -> None:
        self._f = f
        self._md5 = hashlib.md5()
        self._pending: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._hash, name="dflow-md5", daemon=True)
        self._thread.start()

    def _hash(self) -> None:
        while True:
            block = self._pending.get()
            if block is None:
                return
            self._md5.update(block)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: Optional[int] = -1) -> bytes:
        data = self._f.read(size)
        if data:
            self._pending.put(data)  # bytes are immutable: handed over without a copy
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def digest(self) -> bytes:
        """The MD5 of everything read; waits for the hashing to catch up."""
        self.close()
        return self._md5.digest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._pending.put(None)
            self._thread.join()
        super().close()


class _Backoff(ExponentialRetry):
    """The SDK's retries, waiting ``base * 2**n`` seconds (jittered, capped at 30 s); the
    SDK's own schedule starts at 15 s, which turns a dropped connection into a long stall."""

    def __init__(self, base: float, retry_total: int) -> None:
        super().__init__(initial_backoff=0, increment_base=2, retry_total=retry_total)
        self.base = base

    def get_backoff_time(self, settings: Dict[str, Any]) -> float:
        return min(30.0, self.base * 2 ** settings["count"]) * random.uniform(0.5, 1.0)


class AzureStorageClient(StorageClient):
    """Artifact storage in one Azure Blob Storage container.

    Give either a connection string (``AZURE_STORAGE_CONNECTION_STRING`` when
    neither it nor ``account_url`` is given), or an account URL and a credential
    (an account key, a SAS token, a ``{"account_name", "account_key"}`` dict or an
    azure-identity credential object).

    :param connection_string: the account's connection string; never shown in
        ``repr``, messages or logs, nor is ``credential``.
    :param container_name: the container; created on the first write when missing.
    :param account_url: ``https://<account>.blob.core.windows.net`` (or an emulator's URL).
    :param credential: what authorizes requests to ``account_url``.
    :param prefix: a namespace inside the container, put in front of every key
        given to this client; ``list`` returns keys without it.
    :param max_single_put_size: files up to this size go in one request.
    :param block_size: size of one block of bigger files (and of one ranged read).
    :param max_concurrency: parallel requests of one transfer.
    :param max_attempts: attempts of one request on transient errors (connection
        failures, timeouts, throttling, 5xx), with exponential backoff.
    :param backoff: seconds before the first retry (then growing exponentially).
    :param connect_timeout: seconds to open a connection.
    :param read_timeout: seconds to wait for data on an open connection.
    :param list_page_size: blobs per listing request (Azure allows up to 5000).
    :param copy_timeout: seconds to wait for a server-side copy to finish.
    :param k8s_secret: name of a Kubernetes secret whose ``accountKey`` holds the
        account key; with it, :meth:`artifact_location` gives cluster backends a
        full location (endpoint, container, the secret's name).
    :param use_sdk_creds: without ``k8s_secret``, give cluster backends a full
        location whose pods authenticate with the Azure SDK's default credentials
        (workload identity); else the location is key-only.
    :param cluster_endpoint: the account URL pods use, when it differs.
    :param validate_blocks: send every block of a big file with its MD5 for the
        service to check (the SDK hashes each block once more). Off by default: the
        whole file's MD5 is computed anyway, and TLS guards Azure's https endpoints.
    """

    def __init__(
        self,
        connection_string: Optional[str] = None,
        container_name: Optional[str] = None,
        account_url: Optional[str] = None,
        credential: Any = None,
        *,
        prefix: Optional[str] = "",
        max_single_put_size: int = 32 * MiB,
        block_size: int = 16 * MiB,
        max_concurrency: int = 8,
        max_attempts: int = 5,
        backoff: float = 0.5,
        connect_timeout: float = 20.0,
        read_timeout: float = 120.0,
        list_page_size: int = 5000,
        copy_timeout: float = 3600.0,
        k8s_secret: Optional[str] = None,
        use_sdk_creds: bool = False,
        cluster_endpoint: Optional[str] = None,
        validate_blocks: bool = False,
        **_ignored: Any,
    ) -> None:
        if not container_name:
            raise StorageError("AzureStorageClient needs a container_name")
        if not connection_string and not account_url:
            connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or None
        if not connection_string and not account_url:
            raise StorageError(
                "AzureStorageClient needs a connection string (connection_string or "
                "AZURE_STORAGE_CONNECTION_STRING) or an account_url and a credential"
            )
        if not 1 <= list_page_size <= 5000:
            raise StorageError(f"AzureStorageClient list_page_size must be between 1 and 5000, got {list_page_size}")
        self.container_name = container_name
        self.prefix = prefix or ""
        self.max_concurrency = max(1, max_concurrency)
        self.list_page_size = list_page_size
        self.copy_timeout = copy_timeout
        self.k8s_secret = k8s_secret or None
        self.use_sdk_creds = bool(use_sdk_creds)
        self.cluster_endpoint = cluster_endpoint or None
        self.validate_blocks = bool(validate_blocks)
        self._max_single_put_size = max_single_put_size
        self._credentials = Secret((connection_string, credential))
        options: Dict[str, Any] = dict(
            retry_policy=_Backoff(backoff, retry_total=max_attempts - 1),
            connection_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_single_put_size=max_single_put_size,
            max_block_size=block_size,
            # a big file's blocks stay as big as block_size (the SDK would make them 4 MiB otherwise)
            min_large_block_upload_threshold=block_size + 1,
            max_single_get_size=block_size,
            max_chunk_get_size=block_size,
            connection_data_block_size=MiB,
        )
        try:
            if connection_string:
                service = BlobServiceClient.from_connection_string(connection_string, **options)
            else:
                service = BlobServiceClient(account_url, credential=credential, **options)
        except (ValueError, AzureError) as exc:
            # the SDK's messages can quote the connection string: say what is wrong without them
            raise StorageError(f"AzureStorageClient cannot use the connection settings given ({type(exc).__name__})") from None
        self.account_url = service.url.rstrip("/")
        self.account_name = service.account_name
        self._container = service.get_container_client(container_name)
        self._container_ready = False

    # ------------------------------------------------------------------ helpers

    def __repr__(self) -> str:
        return (f"AzureStorageClient(account_url={self.account_url!r}, container_name={self.container_name!r}, "
                f"prefix={self.prefix!r})")

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("AzureStorageClient holds credentials and cannot be pickled; build a new one from its settings")

    @property
    def container_client(self) -> Any:
        """The underlying ``ContainerClient``, for operations this class does not offer."""
        return self._container

    def _where(self) -> str:
        return f"Azure container {self.container_name!r} at {self.account_url}"

    def _error(self, what: str, key: str, exc: BaseException) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        code = getattr(exc, "error_code", None) or ""
        status = getattr(exc, "status_code", None)
        reason = getattr(exc, "reason", None) or type(exc).__name__
        detail = " ".join(str(x) for x in (status, code or reason) if x)
        if isinstance(exc, ResourceNotFoundError) and code != "ContainerNotFound":
            return StorageError(f"cannot {what} key {key!r}: no such blob in {self._where()} ({detail})")
        return StorageError(f"cannot {what} key {key!r} in {self._where()}: {detail}")

    def _full(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix):]

    def _ensure_container(self) -> None:
        if self._container_ready:
            return
        try:
            self._container.create_container()
            logger.info("created %s", self._where())
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise self._error("create the container for", "", exc) from exc
        self._container_ready = True

    def _props(self, full_key: str) -> Optional[Any]:
        """The blob's properties, ``None`` when no blob has exactly that key."""
        try:
            return self._container.get_blob_client(full_key).get_blob_properties()
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise self._error("read", self._rel(full_key), exc) from exc
            return None
        except AzureError as exc:
            raise self._error("read", self._rel(full_key), exc) from exc

    def _iter(self, full_prefix: str, recursive: bool) -> Iterator[Tuple[str, Any]]:
        """``("blob", BlobProperties)`` and ``("prefix", name)`` items of every page."""
        try:
            if recursive:
                pages = self._container.list_blobs(name_starts_with=full_prefix or None,
                                                   results_per_page=self.list_page_size).by_page()
            else:
                pages = self._container.walk_blobs(name_starts_with=full_prefix or None, delimiter="/",
                                                   results_per_page=self.list_page_size).by_page()
            for page in pages:
                for item in page:
                    yield ("prefix", item.name) if isinstance(item, BlobPrefix) else ("blob", item)
        except AzureError as exc:
            raise self._error("list", self._rel(full_prefix) or "(container root)", exc) from exc

    def _tree(self, key: str, what: str) -> Tuple[str, Optional[Any], List[Any]]:
        """``(full key, properties of the blob or None, blobs below key/)``; refuses a key with neither."""
        full = self._full(key).rstrip("/")
        props = self._props(full) if not key.endswith("/") else None
        below = [] if props is not None else [b for kind, b in self._iter(full + "/", True) if kind == "blob"]
        if props is None and not below:
            raise StorageError(f"cannot {what} key {key!r}: no such blob or prefix in {self._where()}")
        return full, props, below

    def _run(self, what: str, jobs: List[Tuple[str, Any]]) -> None:
        """Run ``(full key, callable)`` jobs concurrently; the first failure is raised."""
        run_concurrently(jobs, self.max_concurrency, lambda k, e: self._error(what, self._rel(k), e), "dflow-azure")

    # ------------------------------------------------------------------ StorageClient

    def upload(self, key: str, path: str) -> None:
        """Store the file at ``path`` under ``key``, or every file of the directory
        ``path`` under ``key/<relative path>``."""
        files = files_to_upload(path, self._full(key), key)
        self._ensure_container()
        small = [(f, k) for f, k in files if f.stat().st_size <= self._max_single_put_size]
        self._run("upload", [(k, lambda f=f, k=k: self._put_small(f, k)) for f, k in small])
        for file, full_key in files:
            if file.stat().st_size > self._max_single_put_size:
                try:
                    self._put_blocks(file, full_key)
                except Exception as exc:  # noqa: BLE001 - mapped to StorageError
                    raise self._error("upload", self._rel(full_key), exc) from exc

    def _put_small(self, file: Path, full_key: str) -> None:
        data = file.read_bytes()
        md5 = hashlib.md5(data).digest()
        # validate_content: the service checks the body against its MD5
        self._container.get_blob_client(full_key).upload_blob(
            data, overwrite=True, validate_content=True, content_settings=ContentSettings(content_md5=md5))

    def _put_blocks(self, file: Path, full_key: str) -> None:
        blob = self._container.get_blob_client(full_key)
        with open(file, "rb") as f, _HashingReader(f) as reader:
            result = blob.upload_blob(reader, length=file.stat().st_size, overwrite=True,
                                      max_concurrency=self.max_concurrency, validate_content=self.validate_blocks)
            md5 = reader.digest()
        # the blob's Content-MD5 property, set only if nobody replaced the blob meanwhile
        blob.set_http_headers(ContentSettings(content_type="application/octet-stream", content_md5=md5),
                              etag=result["etag"], match_condition=MatchConditions.IfNotModified)

    def download(self, key: str, path: str) -> None:
        """Write the blob ``key`` to the file ``path``, or every blob below ``key/`` to
        ``path/<relative path>``. Parent directories are created; a file appears only
        complete (written to a temporary name, then renamed)."""
        full, props, below = self._tree(key, "download")
        dst = Path(path)
        if props is not None:
            targets = [(full, dst, props.size)]
        else:
            root = dst.resolve()
            targets = []
            for blob in below:
                target = (dst / PurePosixPath(blob.name[len(full) + 1:])).resolve()
                if root != target and root not in target.parents:
                    raise StorageError(f"refusing to download {self._rel(blob.name)!r}: it would land outside {str(dst)!r}")
                targets.append((blob.name, target, blob.size))
        self._run("download", [(k, lambda k=k, t=t: self._get(k, t, 1)) for k, t, size in targets
                               if size <= self._max_single_put_size])
        for k, t, size in targets:
            if size > self._max_single_put_size:
                try:
                    self._get(k, t, self.max_concurrency)
                except Exception as exc:  # noqa: BLE001
                    raise self._error("download", self._rel(k), exc) from exc

    def _get(self, full_key: str, target: Path, concurrency: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-dflow-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as f:
                # the SDK pins every ranged read to the first answer's ETag and retries broken reads
                self._container.get_blob_client(full_key).download_blob(max_concurrency=concurrency).readinto(f)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        """Keys starting with ``prefix``; without ``recursive``, blobs directly below
        it and the sub-prefixes (ending in ``/``) one level down.

        A ``prefix`` that is exactly the key of a blob (and does not end in ``/``)
        gives just that key, as :class:`dflow.storage.LocalStorageClient` does.
        """
        checked_key(prefix or "", prefix=True)
        full_prefix = self.prefix + (prefix or "")
        result = set()
        for kind, item in self._iter(full_prefix, recursive):
            name = item.name if kind == "blob" else item
            if prefix and name == full_prefix and not prefix.endswith("/"):
                return [prefix]
            result.add(self._rel(name))
        return sorted(result)

    def copy(self, src: str, dst: str) -> None:
        """Copy the blob ``src`` to ``dst``, or every blob below ``src/`` to the same
        relative place below ``dst/``, on the server (Copy Blob). Properties,
        Content-MD5 included, and metadata go along."""
        full_src, props, below = self._tree(src, "copy")
        full_dst = self._full(dst).rstrip("/")
        pairs = [(full_src, full_dst)] if props is not None else [
            (b.name, full_dst + b.name[len(full_src):]) for b in below]
        self._ensure_container()
        self._run("copy", [(s, lambda s=s, d=d: self._copy_one(s, d)) for s, d in pairs])

    def _copy_one(self, full_src: str, full_dst: str) -> None:
        source = self._container.get_blob_client(full_src)
        target = self._container.get_blob_client(full_dst)
        status = target.start_copy_from_url(source.url).get("copy_status")
        deadline = time.monotonic() + self.copy_timeout
        delay = 0.05
        # a copy inside one account may finish later than the request (big blobs)
        while status == "pending":
            if time.monotonic() > deadline:
                target.abort_copy(target.get_blob_properties().copy.id)
                raise StorageError(f"copying {self._rel(full_src)!r} did not finish within {self.copy_timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            status = target.get_blob_properties().copy.status
        if status != "success":
            raise StorageError(f"copying {self._rel(full_src)!r} to {self._rel(full_dst)!r} ended as {status!r}")

    def get_md5(self, key: str) -> str:
        """MD5 hex digest of the blob's content: its Content-MD5 property (kept at
        upload, and by Azure for single-request uploads); else by streaming it."""
        full = self._full(key)
        props = self._props(full)
        if props is None:
            raise StorageError(f"cannot get the MD5 of key {key!r}: no such blob in {self._where()}")
        stored = props.content_settings.content_md5
        if stored and len(stored) == 16:
            return bytes(stored).hex()
        digest = hashlib.md5()
        try:
            stream = self._container.get_blob_client(full).download_blob(etag=props.etag,
                                                                        match_condition=MatchConditions.IfNotModified)
            for chunk in stream.chunks():
                digest.update(chunk)
        except AzureError as exc:
            raise self._error("read", key, exc) from exc
        return digest.hexdigest()

    def artifact_location(self, key: str) -> ArtifactLocation:
        """Argo's ``azure`` location of ``key``.

        With ``k8s_secret``: endpoint, container, blob and the secret's name (never
        its value); with ``use_sdk_creds``: endpoint, container, blob and
        ``useSDKCreds``; else key-only (``{"blob": key}``), which Argo completes
        from the cluster's artifact repository.
        """
        full = self._full(key)
        if not self.k8s_secret and not self.use_sdk_creds:
            return ArtifactLocation("azure", {"blob": full})
        fields: Dict[str, Any] = {"endpoint": self.cluster_endpoint or self.account_url,
                                  "container": self.container_name, "blob": full}
        if self.k8s_secret:
            return ArtifactLocation("azure", fields, {"accountKeySecret": SecretRef(self.k8s_secret, SECRET_ACCOUNT_KEY)})
        fields["useSDKCreds"] = True
        return ArtifactLocation("azure", fields)

    # ------------------------------------------------------------------ extras

    def delete(self, key: str) -> None:
        """Delete the blob ``key``, or every blob below ``key/``."""
        full = self._full(key).rstrip("/")
        names = [full] if self._props(full) is not None else [
            b.name for kind, b in self._iter(full + "/", True) if kind == "blob"]
        for i in range(0, len(names), 256):  # a batch request takes at most 256 blobs
            try:
                self._container.delete_blobs(*names[i:i + 256])
            except (AzureError, HttpResponseError) as exc:
                raise self._error("delete", self._rel(names[i]), exc) from exc

