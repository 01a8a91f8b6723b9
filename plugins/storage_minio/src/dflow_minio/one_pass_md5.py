"""The MD5 of a big file, computed from the very reads that feed its multipart upload.

boto3's transfer manager reads the parts of a file in parallel, each worker from
its own offset, through the file objects its ``OSUtils.open`` returns. Here that
``open`` hands out readers that also collect what they read: once a part has
has been read whole, its blocks go to a hashing thread, which hashes the parts
in file order (holding the ones that arrive early). No second pass over the
file, the hashing runs beside the uploads, and the parts are still read by the
workers in parallel.

A part read again (a retried request) is not hashed twice; a part read in a way
this module does not follow leaves the digest incomplete, and
:meth:`OrderedMD5.hexdigest` then says so (the caller hashes the file itself).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from s3transfer.utils import OSUtils

__all__ = ["OrderedMD5", "HashingOSUtils"]


class OrderedMD5:
    """MD5 of a file of ``size`` bytes whose parts of ``part_size`` bytes arrive in any order."""

    def __init__(self, size: int, part_size: int) -> None:
        self.size = size
        self.part_size = part_size
        self._md5 = hashlib.md5()
        self._done = 0  # bytes hashed, from the start of the file
        self._early: Dict[int, List[bytes]] = {}  # parts that came before their turn, by offset
        self._seen: Set[int] = set()
        self._lock = threading.Lock()
        self._parts: "queue.Queue[Optional[Tuple[int, List[bytes]]]]" = queue.Queue()
        self._thread = threading.Thread(target=self._hash, name="dflow-md5", daemon=True)
        self._thread.start()

    def part_bounds(self, offset: int) -> Tuple[int, int]:
        """``(start, length)`` of the part that holds byte ``offset``."""
        start = offset - offset % self.part_size
        return start, min(self.part_size, self.size - start)

    def add(self, start: int, blocks: List[bytes]) -> None:
        """The part at ``start`` was read whole, as ``blocks``; a part given again is ignored."""
        with self._lock:
            if start in self._seen:
                return
            self._seen.add(start)
        self._parts.put((start, blocks))

    def _hash(self) -> None:
        while True:
            item = self._parts.get()
            if item is None:
                return
            start, blocks = item
            self._early[start] = blocks
            while self._done in self._early:
                for run in _runs(self._early.pop(self._done)):
                    self._md5.update(run)
                    self._done += len(run)

    def hexdigest(self) -> Optional[str]:
        """The MD5 once every part was hashed, else ``None`` (some part was never read whole)."""
        self.close()
        return self._md5.hexdigest() if self._done == self.size else None

    def close(self) -> None:
        if self._thread.is_alive():
            self._parts.put(None)
            self._thread.join()
        self._early.clear()


def _runs(blocks: List[bytes], size: int = 4 * 1024 * 1024) -> Iterator[bytes]:
    """The blocks joined into runs of about ``size`` bytes.

    hashlib lets go of the GIL for every update and must take it back after: with
    the sockets' small blocks (16 KiB) the hashing thread would wait for the GIL
    tens of thousands of times per GiB while the upload threads run. A few MiB per
    update keep that rare, and each join holds the GIL for about a millisecond.
    """
    run: List[bytes] = []
    got = 0
    for block in blocks:
        run.append(block)
        got += len(block)
        if got >= size:
            yield b"".join(run)
            run, got = [], 0
    if run:
        yield b"".join(run)


class _PartReader:
    """A file as s3transfer reads one part of it, handing the part's bytes to an :class:`OrderedMD5`.

    The blocks read are kept as they are (no copy) until the part is whole, then
    go to the hashing thread. A read from an earlier place of the part (a retried
    request) drops what was kept from there on; once given, a part is not kept again.
    """

    def __init__(self, f: Any, digest: OrderedMD5) -> None:
        self._f = f
        self._digest = digest
        self._pos = 0
        self._start = -1  # the part is known at the first seek (or read, for the first part)
        self._length = 0
        self._blocks: List[bytes] = []
        self._got = 0
        self._given = False

    def seek(self, where: int, whence: int = 0) -> int:
        pos = self._f.seek(where, whence)
        if self._start < 0:
            self._start, self._length = self._digest.part_bounds(pos)
        elif not self._given and self._start <= pos < self._start + self._got:
            self._truncate(pos - self._start)
        self._pos = pos
        return pos

    def _truncate(self, keep: int) -> None:
        blocks, got = [], 0
        for block in self._blocks:
            if got + len(block) >= keep:
                blocks.append(block[: keep - got])
                got = keep
                break
            blocks.append(block)
            got += len(block)
        self._blocks, self._got = [b for b in blocks if b], got

    def tell(self) -> int:
        return self._f.tell()

    def read(self, amount: Optional[int] = None) -> bytes:
        if self._start < 0:
            self._start, self._length = self._digest.part_bounds(self._pos)
        data = self._f.read() if amount is None else self._f.read(amount)
        if data and not self._given and self._pos == self._start + self._got:
            self._blocks.append(data)
            self._got += len(data)
            if self._got >= self._length:
                self._given = True
                self._digest.add(self._start, self._blocks)
                self._blocks = []
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._blocks = []
        self._f.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


class HashingOSUtils(OSUtils):
    """``OSUtils`` for a transfer manager: reads of the files given to :meth:`hash` feed their MD5."""

    def __init__(self) -> None:
        super().__init__()
        self._digests: Dict[str, OrderedMD5] = {}

    def hash(self, filename: str, size: int, part_size: int) -> OrderedMD5:
        digest = OrderedMD5(size, part_size)
        self._digests[filename] = digest
        return digest

    def open(self, filename: str, mode: str) -> Any:
        f = super().open(filename, mode)
        digest = self._digests.get(filename)
        return f if digest is None or "r" not in mode else _PartReader(f, digest)

    def close(self) -> None:
        for digest in self._digests.values():
            digest.close()
