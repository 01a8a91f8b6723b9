"""A step's log, followed live.

When the step record's ``log_path`` is a file on this machine (the local backend,
or a cluster log mounted here), the file is tailed by offset: each look costs a
``stat`` and reads only what was added. Otherwise ``Backend.logs`` is asked again
with backoff and the new end of the text is sent. Either way the page first gets
at most the last ``TAIL_BYTES`` of a long log (with a note and a link to the whole
file), text is cut at line ends so a secret is never split across two events,
and known secret values are masked.
"""

from __future__ import annotations

import os
from typing import AsyncIterator, Iterator, Optional, Tuple

from dflow.backend import StepRecord

from .security import Redactor
from .source import Source
from .sse import KEEPALIVE, event
from .views import FINAL_PHASES

__all__ = ["follow_log", "whole_log", "TAIL_BYTES"]

#: what the page gets of a long log at first
TAIL_BYTES = 256 * 1024
#: at most this much per event
CHUNK_BYTES = 256 * 1024
#: when the run has ended and the log did not grow for this many looks, the stream ends
_QUIET_LOOKS = 2


def _read(path: str, offset: int, size: int) -> Tuple[bytes, int]:
    """``size`` bytes of ``path`` from ``offset``, and the file's current size."""
    with open(path, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        if offset > end:
            return b"", end
        f.seek(offset)
        return f.read(size), end


def _incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that is not complete yet."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the character starts here
            need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
            return back if need > back else 0
    return 0


class _Lines:
    """Releases whole lines of the bytes fed (everything complete when asked to flush), as text.

    Cutting at line ends means a secret is never split between two releases, and the
    count of bytes released is an exact offset into the log (the event ids a browser
    resumes from after a dropped connection).
    """

    def __init__(self, redact: Redactor) -> None:
        self._pending = b""
        self._redact = redact

    def feed(self, data: bytes, flush: bool = False) -> Tuple[str, int]:
        """The text released, and how many bytes of the log it covers."""
        buf = self._pending + data
        cut = len(buf) - _incomplete_tail(buf) if flush else buf.rfind(b"\n") + 1
        self._pending = buf[cut:]
        return self._redact.text(buf[:cut].decode("utf-8", errors="replace")), cut


async def follow_log(source: Source, run_id: str, rec: StepRecord, redact: Redactor, resume_from: Optional[int] = None,
                     poll: float = 0.25, max_poll: float = 2.0, keepalive: float = 15.0) -> AsyncIterator[str]:
    """The log of step ``rec`` as events: ``append`` (text), ``skipped`` (how much of the start is not sent), ``end``.

    Each ``append`` carries the log's offset after it as the event id; ``resume_from``
    (the ``Last-Event-ID`` of a reconnecting browser) continues from there, so a
    dropped connection neither loses nor repeats a line.
    """
    path = rec.log_path
    if path and await source.call(os.path.isfile, path):
        stream = _tail_file(source, run_id, path, redact, resume_from, poll, max_poll, keepalive)
    else:
        stream = _poll_backend(source, run_id, rec.id, redact, resume_from, max(poll, 1.0), max(max_poll, 5.0),
                               keepalive)
    async for item in stream:
        yield item


async def _run_ended(source: Source, run_id: str) -> bool:
    rec = await source.call(source.backend.get_workflow, run_id)
    return rec.phase in FINAL_PHASES


class _Looks:
    """How often a follower looks: quickly while the log grows, slower while it does not;
    done once the run has ended and the log stayed the same for a few looks."""

    def __init__(self, poll: float, max_poll: float, keepalive: float) -> None:
        self.poll, self.max_poll, self.keepalive = poll, max_poll, keepalive
        self.delay, self.quiet, self.idle = poll, 0, 0.0

    def grew(self) -> None:
        """The log grew: look again soon."""
        self.delay, self.quiet, self.idle = self.poll, 0, 0.0

    async def finished(self, source: Source, run_id: str) -> bool:
        """Whether the run has ended and the log stayed the same for a few looks."""
        if await _run_ended(source, run_id):
            self.quiet += 1
        return self.quiet >= _QUIET_LOOKS

    def keepalive_due(self) -> bool:
        """Whether a keep-alive comment is due (then the count starts again)."""
        due = self.idle >= self.keepalive
        if due:
            self.idle = 0.0
        return due

    async def wait(self) -> None:
        """Sleep until the next look, a little longer each time."""
        import anyio

        await anyio.sleep(self.delay)
        self.idle += self.delay
        self.delay = min(self.max_poll, self.delay * 1.5)


async def _tail_file(source: Source, run_id: str, path: str, redact: Redactor, resume_from: Optional[int],
                     poll: float, max_poll: float, keepalive: float) -> AsyncIterator[str]:
    size = (await source.call(os.stat, path)).st_size
    if resume_from is not None and 0 <= resume_from <= size:
        offset = resume_from
    else:
        offset = max(0, size - TAIL_BYTES)
        if offset:
            yield event("skipped", {"size": offset})
            # start at a line boundary
            head, _ = await source.call(_read, path, offset, 4096)
            nl = head.find(b"\n")
            offset += nl + 1 if nl >= 0 else 0
    sent, lines = offset, _Lines(redact)
    looks = _Looks(poll, max_poll, keepalive)
    while True:
        data, end = await source.call(_read, path, offset, CHUNK_BYTES)
        if end < offset:  # the file was replaced by a shorter one (a step run again)
            offset, sent, lines = 0, 0, _Lines(redact)
            yield event("reset", {})
            continue
        if data:
            offset += len(data)
            text, n = lines.feed(data)
            sent += n
            if text:
                yield event("append", {"text": text}, sent)
            looks.grew()
            continue
        rest, n = lines.feed(b"", flush=True)
        sent += n
        if rest:
            yield event("append", {"text": rest}, sent)
        if await looks.finished(source, run_id):
            yield event("end", {})
            return
        if looks.keepalive_due():
            yield KEEPALIVE
        await looks.wait()


async def _poll_backend(source: Source, run_id: str, step_id: str, redact: Redactor, resume_from: Optional[int],
                        poll: float, max_poll: float, keepalive: float) -> AsyncIterator[str]:
    sent: Optional[int] = resume_from
    looks = _Looks(poll, max_poll, keepalive)
    while True:
        try:
            text = await source.call(source.backend.logs, run_id, step_id)
        except NotImplementedError as e:
            yield event("nolog", {"message": str(e)})
            return
        if sent is None:
            start = max(0, len(text) - TAIL_BYTES)
            if start:
                yield event("skipped", {"size": start})
            sent = start
        if len(text) < sent:
            sent = 0
            yield event("reset", {})
        if len(text) > sent:
            yield event("append", {"text": redact.text(text[sent:])}, len(text))
            sent = len(text)
            looks.grew()
        elif await looks.finished(source, run_id):
            yield event("end", {})
            return
        del text
        if looks.keepalive_due():
            yield KEEPALIVE
        await looks.wait()


def whole_log(path: Optional[str], redact: Redactor) -> Iterator[bytes]:
    """The whole log file, line by line with secrets masked (for the download link)."""
    if not path or not os.path.isfile(path):
        return
    lines = _Lines(redact)
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK_BYTES)
            text, _n = lines.feed(data, flush=not data)
            if text:
                yield text.encode()
            if not data:
                return
