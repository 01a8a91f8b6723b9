"""Retries and the multipart machinery of :class:`dflow_oss.OSSClient`, on oss2's primitives.

A big file is read once, in order, by one thread that hashes it (the MD5 that
``get_md5`` returns) and hands each part to a pool of workers that upload parts
in parallel. A part is held in memory until its upload succeeds, so a failed
part is sent again as it is; at most ``2 * concurrency`` parts are in memory.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import logging
import random
import time
from typing import Any, Callable, Deque, List, Optional, Tuple, TypeVar

import oss2
import requests
import urllib3
from oss2.models import PartInfo

logger = logging.getLogger(__name__)

T = TypeVar("T")
_READ_SIZE = 1024 * 1024

# answers worth another try: the network (oss2 status -2), a body whose CRC did not
# match (-3), throttling and server-side trouble
_TRANSIENT_STATUS = {-3, -2, 408, 429, 500, 502, 503, 504}
_STREAM_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may not meet ``exc``: an OSS answer worth retrying, or a
    connection that broke while a body was read (requests raises those itself)."""
    if isinstance(exc, oss2.exceptions.OssError):
        return exc.status in _TRANSIENT_STATUS
    return isinstance(exc, _STREAM_ERRORS)


class Retrier:
    """Runs a call again on transient errors, waiting ``base * 2**n`` seconds (with jitter, capped)."""

    def __init__(self, attempts: int, base: float = 0.2, cap: float = 10.0) -> None:
        self.attempts = max(1, attempts)
        self.base = base
        self.cap = cap

    def __call__(self, fn: Callable[[], T], what: str = "request") -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.attempts or not is_transient(exc):
                    raise
                delay = min(self.cap, self.base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                logger.debug("%s failed (%s, attempt %d of %d); retrying in %.2fs",
                             what, _status_text(exc), attempt, self.attempts, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _status_text(exc: BaseException) -> str:
    if isinstance(exc, oss2.exceptions.OssError):
        return f"status {exc.status} {getattr(exc, 'code', '') or type(exc).__name__}"
    return type(exc).__name__


def _pipeline(
    pool: concurrent.futures.ThreadPoolExecutor,
    produce: Callable[[], Optional[Callable[[], PartInfo]]],
    depth: int,
) -> List[PartInfo]:
    """Run the jobs ``produce()`` returns (until it returns None) on ``pool``, at most
    ``depth`` at a time; the parts in order. The first failure cancels the rest."""
    pending: Deque[concurrent.futures.Future] = collections.deque()
    done: List[PartInfo] = []
    try:
        while True:
            job = produce()
            if job is None:
                break
            pending.append(pool.submit(job))
            while len(pending) >= depth:
                done.append(pending.popleft().result())
        while pending:
            done.append(pending.popleft().result())
    except BaseException:
        for future in pending:
            future.cancel()
        raise
    return done


class MultipartUpload:
    """One multipart upload of a local file (or a server-side copy) to ``key``."""

    def __init__(self, bucket: oss2.Bucket, retry: Retrier, key: str, part_size: int, concurrency: int) -> None:
        self.bucket = bucket
        self.retry = retry
        self.key = key
        self.part_size = part_size
        self.concurrency = concurrency

    def _run(self, headers: Optional[dict], jobs: Callable[[str], Callable[[], Optional[Callable[[], PartInfo]]]]) -> str:
        """Initiate, upload the parts ``jobs(upload_id)`` produces, complete; the new ETag.
        On any failure the upload is aborted, so no parts are left behind."""
        upload_id = self.retry(lambda: self.bucket.init_multipart_upload(self.key, headers=headers).upload_id,
                               f"starting the upload of {self.key!r}")
        try:
            with concurrent.futures.ThreadPoolExecutor(self.concurrency, thread_name_prefix="dflow-oss") as pool:
                parts = _pipeline(pool, jobs(upload_id), 2 * self.concurrency)
            result = self.retry(lambda: self.bucket.complete_multipart_upload(self.key, upload_id, parts),
                                f"completing the upload of {self.key!r}")
            return str(result.etag)
        except BaseException:
            try:
                self.bucket.abort_multipart_upload(self.key, upload_id)
            except oss2.exceptions.OssError as exc:
                logger.info("could not abort the upload of %r (%s); OSS lifecycle rules clean it up",
                            self.key, _status_text(exc))
            raise

    def upload_file(self, path: str, headers: Optional[dict]) -> Tuple[str, str]:
        """Upload the file at ``path``; ``(etag, md5 hex of the content)``.

        Each part carries its own Content-MD5, which OSS checks, so a part damaged
        on the way is refused (and sent again) rather than stored.
        """
        digest = hashlib.md5()
        with open(path, "rb") as f:

            def jobs(upload_id: str) -> Callable[[], Optional[Callable[[], PartInfo]]]:
                number = 0

                def produce() -> Optional[Callable[[], PartInfo]]:
                    nonlocal number
                    data = f.read(self.part_size)
                    if not data and number:
                        return None
                    digest.update(data)
                    number += 1
                    return _part_job(self, upload_id, number, data)

                return produce

            etag = self._run(headers, jobs)
        return etag, digest.hexdigest()

    def copy_object(self, bucket_name: str, src_key: str, size: int, headers: Optional[dict]) -> str:
        """Copy ``src_key`` (``size`` bytes) here with UploadPartCopy; the new ETag."""
        ranges = [(start, min(start + self.part_size, size) - 1) for start in range(0, size, self.part_size)]

        def jobs(upload_id: str) -> Callable[[], Optional[Callable[[], PartInfo]]]:
            it = iter(enumerate(ranges, start=1))

            def produce() -> Optional[Callable[[], PartInfo]]:
                item = next(it, None)
                if item is None:
                    return None
                number, span = item

                def job() -> PartInfo:
                    result = self.retry(
                        lambda: self.bucket.upload_part_copy(bucket_name, src_key, span, self.key, upload_id, number),
                        f"copying part {number} of {src_key!r}",
                    )
                    return PartInfo(number, result.etag)

                return job

            return produce

        return self._run(headers, jobs)


def _part_job(upload: MultipartUpload, upload_id: str, number: int, data: bytes) -> Callable[[], PartInfo]:
    def job() -> PartInfo:
        headers = {"Content-MD5": oss2.utils.content_md5(data)}
        result = upload.retry(
            lambda: upload.bucket.upload_part(upload.key, upload_id, number, data, headers=headers),
            f"part {number} of {upload.key!r}",
        )
        return PartInfo(number, result.etag, size=len(data))

    return job


def stream_md5(bucket: oss2.Bucket, retry: Retrier, key: str, size: int, etag: Optional[str]) -> str:
    """MD5 of the object's content, read as a stream; a broken read resumes where it
    stopped, and ``If-Match`` keeps every read to the same content."""
    digest = hashlib.md5()
    offset = 0

    def read_rest() -> None:
        nonlocal offset
        headers = {"If-Match": f'"{etag}"'} if etag else None
        # always a range: oss2 checks no CRC on ranged reads, which a resumed read could not pass
        body: Any = bucket.get_object(key, byte_range=(offset, None), headers=headers)
        for chunk in iter(lambda: body.read(_READ_SIZE), b""):
            digest.update(chunk)
            offset += len(chunk)

    while offset < size:
        retry(read_rest, f"reading {key!r}")
    return digest.hexdigest()
