"""Helpers of the Azure tests: a connection-dropping TCP proxy and Argo's strict schema."""

from __future__ import annotations

import copy
import functools
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Argo v4.1.2's JSON schema: the repository's copy once it is there, else the shared one
ARGO_SCHEMA_PATHS = (
    REPO / "plugins" / "argo_backend" / "src" / "dflow_argo" / "schema" / "argo-v4.1.2.json",
    REPO.parent / "shared" / "argo" / "schema.json",
    Path("/work/shared/argo/schema.json"),
)


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; in CI (``CI`` set) a missing service is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def argo_schema_path() -> Path:
    override = os.environ.get("DFLOW_ARGO_SCHEMA")
    for path in ([Path(override)] if override else []) + list(ARGO_SCHEMA_PATHS):
        if path.is_file():
            return path
    skip_or_fail(f"Argo's JSON schema not found (looked at {', '.join(map(str, ARGO_SCHEMA_PATHS))})")
    raise AssertionError("unreachable")


def _strict(node: Any) -> Any:
    """Every object definition that lists its properties refuses any other property."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(x) for x in node]
    return node


@functools.cache
def _strict_schema() -> Dict[str, Any]:
    with open(argo_schema_path()) as f:
        return _strict(copy.deepcopy(json.load(f)))


def schema_errors(document: Dict[str, Any], definition: str) -> List[str]:
    """Every violation of the strict Argo schema ``definition`` by ``document``, as text lines."""
    import jsonschema

    schema = _strict_schema()
    root = {"$schema": schema.get("$schema"), "definitions": schema["definitions"],
            "$ref": f"#/definitions/{definition}"}
    validator = jsonschema.validators.validator_for(root)(root)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


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
