"""Start and stop Azurite (the Azure Storage emulator, from npm) for the tests and benchmarks.

Azurite is installed by ``scripts/setup-azurite.sh`` into the virtual environment
(``<venv>/azurite``); ``DFLOW_AZURITE`` may name another ``azurite-blob``. Each start
makes up an account name and key (``AZURITE_ACCOUNTS``), so no well-known key is in
use, and listens on a free port of 127.0.0.1 with in-memory storage.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

GRACE_SECONDS = 5.0


def azurite_binary() -> Optional[str]:
    """Path of ``azurite-blob``, or None when it is not installed."""
    override = os.environ.get("DFLOW_AZURITE")
    if override:
        return override if os.access(override, os.X_OK) else None
    local = Path(sys.prefix) / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Azurite:
    """One Azurite blob service; ``connection_string`` reaches it with its account key."""

    def __init__(self, binary: str, memory_limit_mb: int = 4096, location: Optional[str] = None) -> None:
        """``location``: keep the data in that directory instead of in memory (Azurite frees
        the memory of deleted blobs only at its next garbage collection)."""
        self.account = "dflow" + secrets.token_hex(4)
        self.key = base64.b64encode(secrets.token_bytes(64)).decode()
        self.port = _free_port()
        self._log = tempfile.NamedTemporaryFile(prefix="dflow-azurite-", suffix=".log", delete=False)
        env = {**os.environ, "AZURITE_ACCOUNTS": f"{self.account}:{self.key}"}
        storage = (["--location", location] if location else
                   ["--inMemoryPersistence", "--extentMemoryLimit", str(memory_limit_mb)])
        self.proc = subprocess.Popen(
            [binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), *storage,
             "--skipApiVersionCheck", "--disableTelemetry", "--silent"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        self._wait_ready(60.0)

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
                f"BlobEndpoint={self.blob_endpoint};")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"azurite exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"azurite did not listen on port {self.port} within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period (Azurite may not end on SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        try:
            os.unlink(self._log.name)
        except OSError:
            pass
