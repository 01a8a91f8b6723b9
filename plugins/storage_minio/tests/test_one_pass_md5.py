"""The one-pass MD5 of multipart uploads, driven the way s3transfer reads parts (no server needed)."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

from s3transfer.utils import DeferredOpenFile, ReadFileChunk

from dflow_minio.one_pass_md5 import HashingOSUtils

MiB = 1024 * 1024


def _part(osutil: HashingOSUtils, path: Path, start: int, part: int, size: int) -> ReadFileChunk:
    # what s3transfer's UploadFilenameInputManager builds for one part
    return ReadFileChunk(DeferredOpenFile(str(path), start, open_function=osutil.open), part, size)


def _drain(chunk: ReadFileChunk, block: int) -> bytes:
    out = []
    for data in iter(lambda: chunk.read(block), b""):
        out.append(data)
    return b"".join(out)


def test_parts_read_in_any_order_with_retries_give_the_file_md5(tmp_path: Path) -> None:
    data = os.urandom(5 * MiB + 12345)
    path = tmp_path / "f"
    path.write_bytes(data)
    part = MiB
    osutil = HashingOSUtils()
    digest = osutil.hash(str(path), len(data), part)
    starts = list(range(0, len(data), part))
    random.Random(7).shuffle(starts)
    for i, start in enumerate(starts):
        chunk = _part(osutil, path, start, part, len(data))
        if i % 2:
            # a retried request: half of the part, back to the start, then all of it
            chunk.read(part // 2 + 17)
            chunk.seek(0)
        assert _drain(chunk, 8192 + i) == data[start:start + part]
        if i == 3:
            # a body read twice (checksum, then send) is hashed once
            chunk.seek(0)
            _drain(chunk, 65536)
        chunk.close()
    assert digest.hexdigest() == hashlib.md5(data).hexdigest()


def test_a_part_never_read_whole_leaves_no_digest(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    path = tmp_path / "f"
    path.write_bytes(data)
    osutil = HashingOSUtils()
    digest = osutil.hash(str(path), len(data), MiB)
    for start in (0, 2 * MiB):
        _drain(_part(osutil, path, start, MiB, len(data)), 65536)
    chunk = _part(osutil, path, MiB, MiB, len(data))
    chunk.read(1000)
    chunk.close()
    assert digest.hexdigest() is None


def test_files_not_registered_are_read_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_bytes(b"abc")
    osutil = HashingOSUtils()
    with osutil.open(str(path), "rb") as f:
        assert f.read() == b"abc" and type(f).__name__ == "BufferedReader"
