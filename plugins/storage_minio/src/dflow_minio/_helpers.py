"""Small pieces of :mod:`dflow_minio.client`: secrets, endpoint forms, botocore errors
and transfer-manager subscribers."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Optional, Union

import botocore.exceptions
from s3transfer.subscribers import BaseSubscriber

MiB = 1024 * 1024

MD5_RE = re.compile(r"^[0-9a-f]{32}$")
NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
# errors on a half-read body that are worth resuming from the last byte
STREAM_ERRORS = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ResponseStreamingError,
    ConnectionError,
    TimeoutError,
)


def endpoint_url(endpoint: Optional[str], secure: bool) -> Optional[str]:
    if not endpoint:
        return None
    if "://" in endpoint:
        return endpoint.rstrip("/")
    return ("https://" if secure else "http://") + endpoint.rstrip("/")


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def md5_file(path: Union[str, Path]) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 * MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


class KnownObject(BaseSubscriber):
    """Hands the transfer manager the size (and ETag) we already know from a
    listing or ``HEAD``, which saves it one ``HEAD`` request per object."""

    def __init__(self, size: int, etag: Optional[str]) -> None:
        self._size = size
        self._etag = etag

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)
        if self._etag and hasattr(future.meta, "provide_object_etag"):
            future.meta.provide_object_etag(self._etag)


def unwrap(exc: BaseException) -> BaseException:
    """The botocore error behind boto3's transfer wrappers, when there is one."""
    seen = exc
    while True:
        inner = seen.__cause__ or seen.__context__
        if isinstance(seen, (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)) or inner is None:
            return seen
        seen = inner
