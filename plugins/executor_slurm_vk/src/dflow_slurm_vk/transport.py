"""Where Slurm's commands run: this machine, or a login host over SSH (paramiko, no helper binary).

A transport runs a shell command and moves directory trees (as tar streams). The SSH
transport logs in with a key file or a password; credentials never leave the object.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import tarfile
import threading
from typing import Any, Dict, List, Optional, Tuple

from dflow.contract import safe_extract

__all__ = ["Transport", "LocalTransport", "SSHTransport", "TransportError"]


class TransportError(RuntimeError):
    """A command could not be run or a file could not be moved; the message says where."""


class Transport:
    """Runs commands and moves files where the Slurm client commands are."""

    #: a name for messages and ``dflow get`` (``user@host``, or ``local``)
    where: str = "local"

    def run(self, command: str, timeout: float = 120) -> Tuple[int, str, str]:
        """``(exit code, stdout, stderr)`` of ``command`` run by ``sh``."""
        raise NotImplementedError

    def put_tree(self, local_dir: str, remote_dir: str) -> None:
        """The contents of ``local_dir`` into ``remote_dir`` (created)."""
        raise NotImplementedError

    def get_paths(self, remote_dir: str, names: List[str], local_dir: str) -> None:
        """Those of ``names`` (relative to ``remote_dir``) that exist there, into ``local_dir``."""
        raise NotImplementedError

    def close(self) -> None:
        return None

    def check(self, command: str, what: str, timeout: float = 120) -> str:
        code, out, err = self.run(command, timeout)
        if code != 0:
            raise TransportError(f"{what} failed on {self.where} (exit {code}): {(err or out).strip()[-2000:]}")
        return out


def _pack(local_dir: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=3) as tf:
        for name in sorted(os.listdir(local_dir)):
            tf.add(os.path.join(local_dir, name), arcname=name)
    return buf.getvalue()


def _existing(names: List[str]) -> str:
    """A shell fragment listing those of ``names`` that exist (quoted)."""
    quoted = " ".join(shlex.quote(n) for n in names)
    return f'for p in {quoted}; do [ -e "$p" ] && printf "%s\\n" "$p"; done'


class LocalTransport(Transport):
    """Slurm's commands on this machine; a step runs where the engine prepared it."""

    def run(self, command: str, timeout: float = 120) -> Tuple[int, str, str]:
        try:
            proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            return 127, "", str(e)
        return proc.returncode, proc.stdout, proc.stderr

    def put_tree(self, local_dir: str, remote_dir: str) -> None:
        if os.path.realpath(local_dir) != os.path.realpath(remote_dir):
            import shutil

            shutil.copytree(local_dir, remote_dir, dirs_exist_ok=True)

    def get_paths(self, remote_dir: str, names: List[str], local_dir: str) -> None:
        if os.path.realpath(local_dir) == os.path.realpath(remote_dir):
            return
        import shutil

        for n in names:
            src = os.path.join(remote_dir, n)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(local_dir, n), dirs_exist_ok=True)
            elif os.path.exists(src):
                shutil.copy2(src, os.path.join(local_dir, n))


class SSHTransport(Transport):
    """Slurm's commands on a login host, over one SSH connection (opened on first use, reopened if it drops)."""

    def __init__(self, profile: Dict[str, Any], secrets: Optional[Dict[str, str]] = None) -> None:
        self.host = str(profile["host"])
        self.port = int(profile.get("port") or 22)
        self.username = str(profile.get("username") or "root")
        self.key_file = profile.get("private_key_file")
        self.retries = int(profile.get("action_retries", 3))
        self._password = (secrets or {}).get("password")
        self.where = f"{self.username}@{self.host}:{self.port}"
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SSHTransport({self.where})"

    def _connect(self) -> Any:
        import paramiko

        with self._lock:
            transport = self._client.get_transport() if self._client is not None else None
            if transport is not None and transport.is_active():
                return self._client
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            try:
                client.connect(self.host, port=self.port, username=self.username, password=self._password,
                               key_filename=os.path.expanduser(self.key_file) if self.key_file else None,
                               look_for_keys=self.key_file is None and self._password is None,
                               allow_agent=False, timeout=20, banner_timeout=20, auth_timeout=20)
            except Exception as e:  # noqa: BLE001 - paramiko raises many kinds; the message names the login
                raise TransportError(f"cannot log in to {self.where}: {type(e).__name__}: {e}") from None
            transport = client.get_transport()
            if transport is not None:
                transport.set_keepalive(30)
            self._client = client
            return client

    def run(self, command: str, timeout: float = 120) -> Tuple[int, str, str]:
        last: Optional[Exception] = None
        for _ in range(max(1, self.retries)):
            try:
                client = self._connect()
                _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
                out = stdout.read().decode("utf-8", "replace")
                err = stderr.read().decode("utf-8", "replace")
                return stdout.channel.recv_exit_status(), out, err
            except TransportError:
                raise
            except Exception as e:  # noqa: BLE001 - a dropped connection: log in again
                last = e
                self._drop()
        raise TransportError(f"running a command on {self.where} failed: {type(last).__name__}: {last}")

    def put_tree(self, local_dir: str, remote_dir: str) -> None:
        data = _pack(local_dir)
        q = shlex.quote(remote_dir)
        client = self._connect()
        stdin, stdout, stderr = client.exec_command(f"mkdir -p {q} && tar -xzf - -C {q}", timeout=300)
        stdin.write(data)
        stdin.channel.shutdown_write()
        code = stdout.channel.recv_exit_status()
        if code != 0:
            raise TransportError(f"copying the step to {self.where}:{remote_dir} failed: "
                                 f"{stderr.read().decode('utf-8', 'replace')[-2000:]}")

    def get_paths(self, remote_dir: str, names: List[str], local_dir: str) -> None:
        q = shlex.quote(remote_dir)
        client = self._connect()
        _stdin, stdout, stderr = client.exec_command(
            f"cd {q} && {_existing(names)} | tar -czf - -T -", timeout=300)
        data = stdout.read()
        code = stdout.channel.recv_exit_status()
        if code != 0:
            raise TransportError(f"copying the results from {self.where}:{remote_dir} failed: "
                                 f"{stderr.read().decode('utf-8', 'replace')[-2000:]}")
        os.makedirs(local_dir, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
            safe_extract(tf, local_dir)

    def _drop(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:  # noqa: BLE001
                    pass
            self._client = None

    def close(self) -> None:
        self._drop()
