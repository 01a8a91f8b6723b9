"""The SSH password of a Slurm executor, kept out of the WorkflowSpec.

The spec records ``{"$secret": NAME}`` where the password was; the password itself stays
in this process (the local engine's driver is a fork of it and finds it there) or, in
another process (``dflow terminate`` from a new shell), in the environment variable
``NAME``, which the error message names.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any, Dict

__all__ = ["keep_password", "lookup_password", "keep_named"]

_lock = threading.Lock()
_passwords: Dict[str, str] = {}


def keep_password(login: str, password: str) -> Dict[str, str]:
    """Keep ``password`` for ``login`` (``user@host:port``); return the reference the spec records."""
    name = "DFLOW_SSH_PASSWORD_" + hashlib.sha256(login.encode()).hexdigest()[:12].upper()
    with _lock:
        _passwords[name] = password
    return {"$secret": name}


def keep_named(ref: Dict[str, str], password: str) -> None:
    """Keep ``password`` under the name of the reference ``ref`` (read from a mounted secret)."""
    with _lock:
        _passwords[str(ref["$secret"])] = password


def lookup_password(ssh: Dict[str, Any]) -> str:
    """The password ``ssh["password"]`` refers to."""
    ref = ssh.get("password") or {}
    name = str(ref.get("$secret", "")) if isinstance(ref, dict) else ""
    with _lock:
        value = _passwords.get(name)
    value = value if value is not None else os.environ.get(name)
    if value is None:
        raise LookupError(f"the SSH password for {ssh.get('username')}@{ssh.get('host')} is not available in this "
                          f"process: set the environment variable {name} to it, or use a private key file")
    return value
