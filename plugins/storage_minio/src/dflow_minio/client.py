"""``S3StorageClient``: dflow artifact storage on any S3-compatible server, through boto3.

Works with AWS S3, MinIO and Ceph RGW. Files and directory trees (a directory is
every object below ``key + "/"``) move through boto3's transfer manager, so big
files go in parallel multipart transfers and many small files go concurrently.
The MD5 of every uploaded file is kept with the object (metadata, or a tag for
multipart uploads), because the ETag of a multipart object is not an MD5 of
its content.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import inspect
import logging
import threading
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from s3transfer.utils import ChunksizeAdjuster

from dflow.errors import StorageError
from dflow.storage import ArtifactLocation, Secret, SecretRef, StorageClient, checked_key, files_to_upload

from ._helpers import (
    MD5_RE,
    NOT_FOUND_CODES,
    STREAM_ERRORS,
    KnownObject,
    as_bool,
    endpoint_url,
    error_code,
    is_not_found,
    md5_file,
    unwrap,
)
from .one_pass_md5 import HashingOSUtils, OrderedMD5

__all__ = ["S3StorageClient"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024

#: where the hex MD5 of the content is kept: the user-metadata field
#: ``x-amz-meta-dflow-md5`` (single-part uploads), or the object tag ``dflow-md5``
#: with value ``<md5>:<etag>`` (multipart uploads, whose metadata is sent before
#: the content has been read)
MD5_METADATA_KEY = "dflow-md5"
#: names of the keys in the Kubernetes secret that ``k8s_secret`` names
SECRET_ACCESS_KEY, SECRET_SECRET_KEY = "accessKey", "secretKey"

class S3StorageClient(StorageClient):
    """Artifact storage in one bucket of an S3-compatible server.

    Options are the keys of ``dflow.s3_config``; keys this client does
    not use (``console``, ``repo_key``, ``storage_client``, ...) are ignored, so
    ``S3StorageClient(**s3_config)`` works.

    :param endpoint: ``"host:port"`` (scheme from ``secure``) or a full URL;
        ``None`` or ``""`` means AWS S3.
    :param access_key: access key id; ``None`` lets boto3 find credentials itself
        (environment, ``~/.aws``, instance role).
    :param secret_key: secret access key; never shown in ``repr``, messages or logs.
    :param secure: use ``https`` when ``endpoint`` has no scheme.
    :param bucket_name: the bucket; created on first write when missing.
    :param region: region name; for custom endpoints ``us-east-1`` when unset.
    :param prefix: a namespace inside the bucket: it is put in front of every
        key given to this client, and ``list`` returns keys without it.
    :param multipart_threshold: files (and copies) at least this big go multipart.
    :param multipart_chunksize: size of one part.
    :param max_concurrency: parallel requests of one transfer call.
    :param max_attempts: total attempts of one request on transient errors
        (connection failures, timeouts, throttling, 5xx).
    :param retry_mode: botocore retry mode, ``"standard"`` or ``"adaptive"``.
    :param connect_timeout: seconds to open a connection.
    :param read_timeout: seconds to wait for data on an open connection.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path.
    :param store_md5: compute each file's MD5 at upload and keep it with the
        object (metadata for single-part uploads; for multipart uploads, hashed
        in the pass that reads the parts and kept in the tag ``dflow-md5``), so
        :meth:`get_md5` need not read the object back.
    :param k8s_secret: name of a Kubernetes secret holding ``accessKey`` and
        ``secretKey``; with it, :meth:`artifact_location` gives cluster backends a
        full location (endpoint, bucket, the secret's name), else a key-only one.
    :param cluster_endpoint: the ``host:port`` pods reach the S3 server at, when it
        differs from ``endpoint``.
    """

    def __init__(
        self,
        endpoint: Optional[str] = None,
        access_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        secure: Union[bool, str] = False,
        bucket_name: str = "my-bucket",
        region: Optional[str] = None,
        prefix: Optional[str] = "",
        *,
        multipart_threshold: int = 64 * MiB,
        multipart_chunksize: int = 32 * MiB,
        max_concurrency: int = 8,
        max_attempts: int = 5,
        retry_mode: str = "standard",
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        verify: Union[bool, str, None] = None,
        store_md5: bool = True,
        k8s_secret: Optional[str] = None,
        cluster_endpoint: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        if not bucket_name:
            raise StorageError("S3StorageClient needs a bucket_name (s3_config['bucket_name'])")
        if retry_mode not in ("standard", "adaptive", "legacy"):
            raise StorageError(f"retry_mode must be 'standard' or 'adaptive', got {retry_mode!r}")
        self.endpoint_url = endpoint_url(endpoint, as_bool(secure))
        self.bucket_name = bucket_name
        self.region = region or ("us-east-1" if self.endpoint_url else None)
        self.prefix = prefix or ""
        self.access_key = access_key
        self._secret_key = Secret(secret_key)
        self.store_md5 = store_md5
        self.k8s_secret = k8s_secret or None
        self.cluster_endpoint = cluster_endpoint or None
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            use_threads=True,
            io_chunksize=1 * MiB,
            num_download_attempts=max_attempts,
        )
        # the CRT transfer client ignores most of this config: stay on s3transfer
        if hasattr(self.transfer_config, "preferred_transfer_client"):
            self.transfer_config.preferred_transfer_client = "classic"
        config_kwargs: Dict[str, Any] = dict(
            retries={"total_max_attempts": max_attempts, "mode": retry_mode},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max(10, 2 * max_concurrency),
            signature_version="s3v4",
        )
        if self.endpoint_url:
            # MinIO and RGW serve buckets by path; many do not know the newer
            # default CRC checksums of boto3 >= 1.36
            config_kwargs["s3"] = {"addressing_style": "path"}
            config_kwargs["request_checksum_calculation"] = "when_required"
            config_kwargs["response_checksum_validation"] = "when_required"
        try:
            botocore_config = Config(**config_kwargs)
        except TypeError:  # botocore < 1.36 knows no checksum settings
            config_kwargs.pop("request_checksum_calculation", None)
            config_kwargs.pop("response_checksum_validation", None)
            botocore_config = Config(**config_kwargs)
        # the boto3 client is made on first use (~0.1 s): naming locations (a manifest render) needs none
        self._client_args = dict(endpoint_url=self.endpoint_url, region_name=self.region,
                                 aws_access_key_id=access_key, config=botocore_config, verify=verify)
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    # ------------------------------------------------------------------ helpers

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS S3"
        return (
            f"S3StorageClient(endpoint={where!r}, bucket_name={self.bucket_name!r}, "
            f"prefix={self.prefix!r}, access_key={self.access_key!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("S3StorageClient holds credentials and cannot be pickled; build a new one from s3_config")

    @property
    def _s3(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = boto3.session.Session().client(
                        "s3", aws_secret_access_key=self._secret_key.get(), **self._client_args)
        return self._client

    @property
    def boto3_client(self) -> Any:
        """The underlying boto3 S3 client, for operations this class does not offer."""
        return self._s3

    def _where(self) -> str:
        return f"bucket {self.bucket_name!r} at {self.endpoint_url or 'AWS S3'}"

    def _error(self, what: str, key: str, exc: BaseException) -> StorageError:
        code = error_code(exc)
        if isinstance(exc, botocore.exceptions.ClientError):
            msg = exc.response.get("Error", {}).get("Message") or ""
            detail = f"{code}: {msg}" if msg else code
        else:
            detail = f"{type(exc).__name__}: {exc}"
        if code in NOT_FOUND_CODES and code != "NoSuchBucket":
            return StorageError(f"cannot {what} key {key!r}: no such object in {self._where()} ({detail})")
        return StorageError(f"cannot {what} key {key!r} in {self._where()}: {detail}")

    def _full(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix) :]

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                self._s3.head_bucket(Bucket=self.bucket_name)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise self._error("check the bucket for", "", exc) from exc
                kwargs: Dict[str, Any] = {"Bucket": self.bucket_name}
                if self.region and self.region != "us-east-1" and not self.endpoint_url:
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                try:
                    self._s3.create_bucket(**kwargs)
                    logger.info("created bucket %r at %s", self.bucket_name, self.endpoint_url or "AWS S3")
                except botocore.exceptions.ClientError as exc2:
                    if error_code(exc2) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise StorageError(f"cannot create {self._where()}: {error_code(exc2)}") from exc2
            except botocore.exceptions.BotoCoreError as exc:
                raise self._error("check the bucket for", "", exc) from exc
            self._bucket_ready = True

    def _head(self, full_key: str) -> Optional[Dict[str, Any]]:
        """``HEAD`` of one object, ``None`` when there is no object with exactly that key."""
        try:
            return self._s3.head_object(Bucket=self.bucket_name, Key=full_key)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc) and error_code(exc) != "NoSuchBucket":
                return None
            raise self._error("read", self._rel(full_key), exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error("read", self._rel(full_key), exc) from exc

    def _iter_objects(self, full_prefix: str, delimiter: Optional[str] = None) -> Iterator[Tuple[str, Any]]:
        """``("object", (key, size))`` and ``("prefix", key)`` items, all pages."""
        kwargs: Dict[str, Any] = {"Bucket": self.bucket_name, "Prefix": full_prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", ()):
                    yield "object", (obj["Key"], obj["Size"], obj.get("ETag"))
                for sub in page.get("CommonPrefixes", ()):
                    yield "prefix", sub["Prefix"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._error("list", self._rel(full_prefix) or "(bucket root)", exc) from exc

    def _objects_below(self, full_dir: str) -> List[Tuple[str, int, Optional[str]]]:
        return [item for kind, item in self._iter_objects(full_dir) if kind == "object" and not item[0].endswith("/")]

    def _transfer_manager(self, osutil: Optional[Any] = None) -> Any:
        return create_transfer_manager(self._s3, self.transfer_config, osutil=osutil)

    def _run(self, what: str, jobs: List[Tuple[str, Any]]) -> None:
        """Wait for transfer futures; on the first failure cancel the rest and raise."""
        first: Optional[StorageError] = None
        for key, future in jobs:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - mapped to StorageError below
                if first is None:
                    first = exc if isinstance(exc, StorageError) else self._error(what, key, unwrap(exc))
                    first.__cause__ = exc
                    for _, other in jobs:
                        other.cancel()
        if first is not None:
            raise first

    # ------------------------------------------------------------------ StorageClient

    def upload(self, key: str, path: str) -> None:
        """Store the file at ``path`` under ``key``, or every file of the directory
        ``path`` under ``key/<relative path>``."""
        files = files_to_upload(path, self._full(key), key)
        self._ensure_bucket()
        threshold = self.transfer_config.multipart_threshold
        osutil = HashingOSUtils()
        to_tag: List[Tuple[str, Path, OrderedMD5]] = []
        try:
            with self._transfer_manager(osutil) as tm:
                jobs = []
                for file, full_key in files:
                    extra: Dict[str, Any] = {}
                    size = file.stat().st_size
                    if self.store_md5:
                        if size < threshold:
                            extra["Metadata"] = {MD5_METADATA_KEY: md5_file(file)}
                        else:
                            # metadata goes out before the first part: a big file is hashed from the
                            # reads that feed its parts, and the MD5 goes in a tag afterwards
                            part = ChunksizeAdjuster().adjust_chunksize(self.transfer_config.multipart_chunksize, size)
                            to_tag.append((full_key, file, osutil.hash(str(file), size, part)))
                    jobs.append((self._rel(full_key), tm.upload(str(file), self.bucket_name, full_key, extra_args=extra)))
                self._run("upload", jobs)
            for full_key, file, digest in to_tag:
                md5 = digest.hexdigest()
                if md5 is None:  # the transfer manager read the file in a way not followed: hash it here
                    logger.debug("hashing %s in a pass of its own", file)
                    md5 = md5_file(file)
                self._tag_md5(full_key, md5)
        finally:
            osutil.close()

    def _tag_md5(self, full_key: str, md5: str, etag: Optional[str] = None) -> None:
        """Keep ``md5`` in the object's tag ``dflow-md5`` as ``<md5>:<etag>``; the
        ETag part ties the tag to this very content. Best effort: a server without
        tagging just makes :meth:`get_md5` stream the object."""
        try:
            if etag is None:
                head = self._head(full_key)
                if head is None:
                    return
                etag = str(head.get("ETag", ""))
            self._s3.put_object_tagging(
                Bucket=self.bucket_name,
                Key=full_key,
                Tagging={"TagSet": [{"Key": MD5_METADATA_KEY, "Value": f"{md5}:{etag.strip(chr(34))}"}]},
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, StorageError) as exc:
            logger.info("could not tag %r with its MD5 (%s); get_md5 will read the object", self._rel(full_key), exc)

    def _tagged_md5(self, full_key: str, etag: str) -> Optional[str]:
        try:
            tags = self._s3.get_object_tagging(Bucket=self.bucket_name, Key=full_key).get("TagSet", [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            return None
        for tag in tags:
            if tag.get("Key") == MD5_METADATA_KEY:
                md5, _, tagged_etag = str(tag.get("Value", "")).partition(":")
                if MD5_RE.match(md5) and tagged_etag == etag.strip('"'):
                    return md5
        return None

    def download(self, key: str, path: str) -> None:
        """Write the object ``key`` to the file ``path``, or every object below
        ``key/`` to ``path/<relative path>``. Parent directories are created."""
        full = self._full(key).rstrip("/")
        dst = Path(path)
        head = self._head(full) if not key.endswith("/") else None
        if head is not None:
            targets = [(full, dst, int(head["ContentLength"]), head.get("ETag"))]
        else:
            objects = self._objects_below(full + "/")
            if not objects:
                raise StorageError(f"cannot download key {key!r}: no such object or prefix in {self._where()}")
            root = dst.resolve()
            targets = []
            for obj_key, size, etag in objects:
                rel = obj_key[len(full) + 1 :]
                target = (dst / PurePosixPath(rel)).resolve()
                if root != target and root not in target.parents:
                    raise StorageError(
                        f"refusing to download {self._rel(obj_key)!r}: it would land outside {str(dst)!r}"
                    )
                targets.append((obj_key, target, size, etag))
        for _, target, _, _ in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        with self._transfer_manager() as tm:
            jobs = [
                (self._rel(k), tm.download(self.bucket_name, k, str(t), subscribers=[KnownObject(size, etag)]))
                for k, t, size, etag in targets
            ]
            self._run("download", jobs)

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        """Keys starting with ``prefix``; without ``recursive``, objects directly
        below it and the sub-prefixes (ending in ``/``) one level down.

        A ``prefix`` that is exactly the key of an object (and does not end in
        ``/``) gives just that key, as :class:`dflow.storage.LocalStorageClient` does.
        """
        if prefix and (prefix.startswith("/") or ".." in prefix.split("/")):
            raise StorageError(f"storage key {prefix!r} must be relative and must not contain '..' parts")
        full_prefix = self.prefix + (prefix or "")
        result: List[str] = []
        for kind, item in self._iter_objects(full_prefix, None if recursive else "/"):
            full_key = item[0] if kind == "object" else item
            if prefix and full_key == full_prefix and not prefix.endswith("/"):
                return [prefix]
            result.append(self._rel(full_key))
        return sorted(result)

    def copy(self, src: str, dst: str) -> None:
        """Copy the object ``src`` to ``dst``, or every object below ``src/`` to the
        same relative place below ``dst/``, on the server. Metadata (with the
        stored MD5) goes along."""
        full_src = self._full(src).rstrip("/")
        full_dst = self._full(dst).rstrip("/")
        head = self._head(full_src) if not src.endswith("/") else None
        if head is not None:
            pairs = [(full_src, full_dst, int(head["ContentLength"]), head)]
        else:
            objects = self._objects_below(full_src + "/")
            if not objects:
                raise StorageError(f"cannot copy key {src!r}: no such object or prefix in {self._where()}")
            pairs = [(k, full_dst + k[len(full_src) :], size, None) for k, size, _ in objects]
        self._ensure_bucket()
        threshold = self.transfer_config.multipart_threshold
        small = [(s, d) for s, d, size, _ in pairs if size < threshold]
        large = [(s, d, size, h) for s, d, size, h in pairs if size >= threshold]

        def copy_small(s: str, d: str) -> None:
            # one request; the server keeps the metadata (MetadataDirective COPY)
            self._s3.copy_object(Bucket=self.bucket_name, Key=d, CopySource={"Bucket": self.bucket_name, "Key": s})

        with concurrent.futures.ThreadPoolExecutor(self.transfer_config.max_concurrency) as pool:
            jobs = [(self._rel(s), pool.submit(copy_small, s, d)) for s, d in small]
            with self._transfer_manager() as tm:
                tagged: List[Tuple[str, str]] = []
                for s, d, size, h in large:
                    h = h or self._head(s) or {}
                    # a multipart copy starts a new object: carry the metadata over
                    extra = {"MetadataDirective": "REPLACE", "Metadata": h.get("Metadata", {})}
                    if h.get("ContentType"):
                        extra["ContentType"] = h["ContentType"]
                    md5 = self._tagged_md5(s, str(h.get("ETag", ""))) if self.store_md5 else None
                    if md5:
                        tagged.append((d, md5))
                    copy_source = {"Bucket": self.bucket_name, "Key": s}
                    future = tm.copy(
                        copy_source,
                        self.bucket_name,
                        d,
                        extra_args=extra,
                        subscribers=[KnownObject(size, h.get("ETag"))],
                    )
                    jobs.append((self._rel(s), future))
                self._run("copy", jobs)
            # the copy has a new ETag: tag it anew
            for d, md5 in tagged:
                self._tag_md5(d, md5)

    def get_md5(self, key: str) -> str:
        """MD5 hex digest of the object's content.

        From the metadata stored at upload (small files); else from the ETag when
        it is a plain MD5 (single-part, not KMS/SSE-C encrypted); else from the tag
        stored at upload (multipart files), if it belongs to the current content;
        else by streaming the object.
        """
        full = self._full(key)
        head = self._head(full)
        if head is None:
            raise StorageError(f"cannot get the MD5 of key {key!r}: no such object in {self._where()}")
        stored = (head.get("Metadata") or {}).get(MD5_METADATA_KEY, "").lower()
        if MD5_RE.match(stored):
            return stored
        etag = str(head.get("ETag", "")).strip('"').lower()
        encrypted = head.get("ServerSideEncryption") == "aws:kms" or "SSECustomerAlgorithm" in head
        if MD5_RE.match(etag) and not encrypted:
            return etag
        tagged = self._tagged_md5(full, str(head.get("ETag", "")))
        if tagged:
            return tagged
        return self._stream_md5(full, int(head["ContentLength"]), head.get("ETag"))

    def _stream_md5(self, full_key: str, size: int, etag: Optional[str]) -> str:
        digest = hashlib.md5()
        offset = 0
        failures = 0
        max_failures = self.transfer_config.num_download_attempts
        while offset < size:
            kwargs: Dict[str, Any] = {"Bucket": self.bucket_name, "Key": full_key}
            if offset:
                kwargs["Range"] = f"bytes={offset}-"
                if etag:
                    kwargs["IfMatch"] = etag  # the object must not change under us
            try:
                body = self._s3.get_object(**kwargs)["Body"]
                for chunk in body.iter_chunks(MiB):
                    digest.update(chunk)
                    offset += len(chunk)
            except STREAM_ERRORS as exc:
                failures += 1
                if failures >= max_failures:
                    raise self._error("read", self._rel(full_key), exc) from exc
                logger.debug("resuming MD5 of %r at byte %d after %s", self._rel(full_key), offset, type(exc).__name__)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise self._error("read", self._rel(full_key), exc) from exc
        return digest.hexdigest()

    def artifact_location(self, key: str) -> ArtifactLocation:
        """Argo's ``s3`` location of ``key``: key-only unless ``k8s_secret`` is set;
        then endpoint, bucket, region and the secret's name (never its value)."""
        full = self._full(key)
        if not self.k8s_secret:
            return ArtifactLocation("s3", {"key": full})
        url = self.endpoint_url or "https://s3.amazonaws.com"
        fields: Dict[str, Any] = {
            # Argo takes host[:port] and a separate TLS switch
            "endpoint": self.cluster_endpoint or url.split("://", 1)[1],
            "bucket": self.bucket_name,
            "key": full,
            "insecure": url.startswith("http://"),
        }
        if self.region:
            fields["region"] = self.region
        return ArtifactLocation("s3", fields, {"accessKeySecret": SecretRef(self.k8s_secret, SECRET_ACCESS_KEY),
                                               "secretKeySecret": SecretRef(self.k8s_secret, SECRET_SECRET_KEY)})

    # ------------------------------------------------------------------ extras

    def delete(self, key: str) -> None:
        """Delete the object ``key``, or every object below ``key/``."""
        full = self._full(key).rstrip("/")
        keys = [full] if self._head(full) is not None else [k for k, _, _ in self._objects_below(full + "/")]
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            try:
                answer = self._s3.delete_objects(Bucket=self.bucket_name, Delete={"Objects": batch, "Quiet": True})
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise self._error("delete", key, exc) from exc
            errors = answer.get("Errors") or []
            if errors:
                raise StorageError(
                    f"cannot delete key {self._rel(errors[0]['Key'])!r} in {self._where()}: "
                    f"{errors[0].get('Code')}: {errors[0].get('Message')}"
                )


class MinioClient(S3StorageClient):
    """The original dflow's ``MinioClient(endpoint, access_key, secret_key, secure, bucket_name)``:
    an :class:`S3StorageClient` whose unset options come from ``dflow.s3_config``."""

    def __init__(self, endpoint: Optional[str] = None, access_key: Optional[str] = None,
                 secret_key: Optional[str] = None, secure: Optional[Union[bool, str]] = None,
                 bucket_name: Optional[str] = None, **kwargs: Any) -> None:
        from dflow.config import s3_config

        given = {"endpoint": endpoint, "access_key": access_key, "secret_key": secret_key, "secure": secure,
                 "bucket_name": bucket_name}
        options = {k: (v if v is not None else s3_config.get(k)) for k, v in given.items()}
        options = {k: v for k, v in options.items() if v is not None}
        known = inspect.signature(S3StorageClient.__init__).parameters
        options.update({k: v for k, v in kwargs.items() if k in known and k != "self"})
        super().__init__(**options)
