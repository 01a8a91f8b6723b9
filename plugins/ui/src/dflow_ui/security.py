"""What keeps the page private: the token on every request, the host check, the headers, redaction.

The server binds to 127.0.0.1, but other users of the machine (and web pages open
in the same browser) can reach a loopback port too: every request must carry the
random token ``dflow ui`` printed, as ``?token=`` (page, assets, event streams,
downloads) or as the ``X-Dflow-Token`` header (actions, which accept nothing else).
A ``Host`` other than the loopback address and port is refused as well, so a
DNS-rebinding page cannot talk to the server under its own name.
"""

from __future__ import annotations

import os
import re
import secrets
from typing import Any, Dict, Iterable, List, Mapping, Optional

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["new_token", "TokenGuard", "Redactor", "SECURITY_HEADERS", "MASK"]

MASK = "••••••"

#: sent with every answer: no framing, no sniffing, no referrer (the URL holds the token),
#: nothing loaded from anywhere but this server
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

_REFUSED = (
    "forbidden: this dflow ui server needs the token it printed at start "
    "(open the exact URL `dflow ui` printed)\n"
)


def new_token() -> str:
    """A fresh random token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


class TokenGuard:
    """ASGI middleware: refuses any request without the right token or with a foreign ``Host``.

    ``port`` may be set after the socket is bound (``guard.port = ...``); until then
    any port on a loopback host name is accepted.
    """

    def __init__(self, app: ASGIApp, token: str, port: Optional[int] = None) -> None:
        self.app = app
        self._token = token.encode()
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if not self._host_ok(headers.get(b"host", b"")):
            await _plain(send, 403, "forbidden: this dflow ui server answers only on 127.0.0.1 or localhost\n")
            return
        if not self._token_ok(scope, headers):
            await _plain(send, 403, _REFUSED)
            return

        async def send_with_headers(message: Message) -> None:
            """Add the security headers to the answer's start."""
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _host_ok(self, host: bytes) -> bool:
        name, _, port = host.decode("latin-1").rpartition(":")
        if not name:  # no port given
            name, port = port, ""
        if name not in ("127.0.0.1", "localhost", "[::1]"):
            return False
        return self.port is None or port == str(self.port)

    def _token_ok(self, scope: Scope, headers: Mapping[bytes, bytes]) -> bool:
        given = headers.get(b"x-dflow-token")
        if given is None and scope.get("method") == "GET":
            # only reads may carry the token in the URL: EventSource, <a download> and
            # <script src> cannot set headers; an action must send the header
            given = _query_token(scope.get("query_string", b""))
        return given is not None and secrets.compare_digest(given, self._token)


def _query_token(query: bytes) -> Optional[bytes]:
    from urllib.parse import parse_qs

    values = parse_qs(query.decode("latin-1")).get("token")
    return values[0].encode("latin-1") if values else None


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())] + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- redaction

#: names whose values are never shown (launch descriptions, parameters)
SECRET_NAME = re.compile(r"(secret|password|passwd|passphrase|api[_-]?key|access[_-]?key|private[_-]?key|token|credentials?)$",
                         re.IGNORECASE)
#: environment variables whose values are secrets by their name
_SECRET_ENV = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.IGNORECASE)
#: values too short or too common to hide without garbling ordinary text (the shipped
#: defaults of s3_config are placeholders, not secrets)
_NOT_SECRETS = {"password", "admin", "minioadmin"}
_MIN_SECRET = 8


class Redactor:
    """Replaces known secret values in text shown on the page, and values of secret-named fields.

    The secrets are the UI token, ``config["token"]``, ``s3_config["secret_key"]`` and
    the values of environment variables named like secrets (``*_SECRET*``, ``*TOKEN*``,
    ``*PASSWORD*``, ...), as this server's process sees them.
    """

    def __init__(self, values: Iterable[Optional[str]]) -> None:
        found = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET and v.lower() not in _NOT_SECRETS}
        # longest first, so a secret containing another is masked whole
        self._values: List[str] = sorted(found, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in self._values)) if self._values else None

    @classmethod
    def from_environment(cls, token: str) -> "Redactor":
        """The secrets this process knows: the token, ``config``'s and ``s3_config``'s, the environment's."""
        from dflow import config, s3_config

        values: List[Optional[str]] = [token, config.get("token"), s3_config.get("secret_key")]
        values += [v for k, v in os.environ.items() if _SECRET_ENV.search(k)]
        return cls(values)

    def text(self, text: str) -> str:
        """``text`` with every known secret value masked."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def fields(self, data: Optional[Mapping[str, Any]]) -> Dict[str, str]:
        """A flat mapping of strings, secret-named fields masked, secret values masked."""
        out: Dict[str, str] = {}
        for k, v in (data or {}).items():
            out[str(k)] = MASK if SECRET_NAME.search(str(k)) else self.text("" if v is None else str(v))
        return out
