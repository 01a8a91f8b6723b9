"""Server-sent events: the wire format, and the response that carries them."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Optional

from starlette.responses import StreamingResponse

__all__ = ["event", "KEEPALIVE", "sse_response"]

#: a comment line: keeps proxies and the browser from timing the stream out
KEEPALIVE = ": keepalive\n\n"


def event(name: str, data: Any, event_id: Optional[int] = None) -> str:
    """One event; ``data`` is sent as one line of JSON (JSON escapes every newline in strings).

    With ``event_id``, a browser that reconnects sends it back as ``Last-Event-ID``.
    """
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def sse_response(stream: AsyncIterator[str]) -> StreamingResponse:
    """A streaming answer the browser's ``EventSource`` reads; the stream ends when the client leaves."""
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
