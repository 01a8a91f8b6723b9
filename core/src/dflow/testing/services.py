"""Helpers for plugins' tests against real services: skip or fail on a missing service,
a TCP proxy that drops connections (to test retries), files that hold a secret.

Standard library and pytest only.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import List, Optional

import pytest

__all__ = ["skip_or_fail", "DroppingProxy", "files_containing"]


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; in CI (``CI`` set) a missing service is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 that reads the request of each of the first ``drop``
    connections and hangs up without an answer, and forwards later ones to ``target``."""

    def __init__(self, target: str, drop: int) -> None:
        host, port = target.split("://")[-1].rstrip("/").rsplit(":", 1)
        self.target = (host, int(port))
        self.to_drop = drop
        self.dropped = 0
        self.forwarded = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._conns: List[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.dropped < self.to_drop:
                self.dropped += 1
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                conn.close()
                continue
            self.forwarded += 1
            upstream = socket.create_connection(self.target, timeout=10)
            self._conns += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                t = threading.Thread(target=self._pipe, args=(a, b), daemon=True)
                t.start()
                self._threads.append(t)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(30)
        try:
            while not self._stop.is_set():
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._accept.join(5)
        for s in self._conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)
        for s in self._conns:
            s.close()


def files_containing(root: Path, secrets: List[str], skip: Optional[List[str]] = None) -> List[str]:
    """Files below ``root`` that contain any of ``secrets`` (empty when none does)."""
    found = []
    needles = [s.encode() for s in secrets if s]
    for path in root.rglob("*"):
        if path.is_file() and not any(part in (skip or []) for part in path.parts):
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path))
    return found
