"""Credentials kept out of the WorkflowSpec: recorded by reference, looked up where the job is submitted.

The spec records an executor's options as plain JSON and is written to disk, shown and
diffed, so a password must never be in it. A secret given to the executor (the SSH
``password``, a key ``passphrase``, anything under such a name in ``machine_dict``) is
replaced there by ``{"$secret": NAME}`` and kept in this process, under ``NAME``: the
local engine's driver is a fork of this process and finds it there. Another process
(``dflow resume`` or ``dflow terminate`` in a new shell) finds it in the environment
variable ``NAME``, which the error message names.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Any, Dict

__all__ = ["SECRET_KEYS", "hide_secrets", "reveal_secrets", "secret_name", "keep_secret", "MissingSecret"]

#: option names whose values are credentials, wherever they appear in a machine dict
SECRET_KEYS = frozenset({"password", "passphrase", "totp_secret", "access_key", "secret_key", "app_key", "ticket",
                         "token", "secret"})

_lock = threading.Lock()
_kept: Dict[str, str] = {}


class MissingSecret(LookupError):
    """A credential the spec refers to is neither in this process nor in the environment."""


def secret_name(scope: str, key: str) -> str:
    """The name a secret is kept under: derived from where it is used, never from its value."""
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:12].upper()
    return f"DFLOW_SECRET_{re.sub('[^A-Z0-9]+', '_', key.rsplit('.', 1)[-1].upper())}_{digest}"


def keep_secret(name: str, value: str) -> None:
    """Keep ``value`` under ``name`` in this process (a credential read from a mounted secret)."""
    with _lock:
        _kept[name] = value


def hide_secrets(data: Any, scope: str, path: str = "") -> Any:
    """A copy of ``data`` with every credential replaced by a ``{"$secret": NAME}`` reference."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            where = f"{path}.{k}" if path else str(k)
            if k in SECRET_KEYS and isinstance(v, str) and v:
                name = secret_name(scope, where)
                with _lock:
                    _kept[name] = v
                out[k] = {"$secret": name}
            else:
                out[k] = hide_secrets(v, scope, where)
        return out
    if isinstance(data, list):
        return [hide_secrets(v, scope, f"{path}[{i}]") for i, v in enumerate(data)]
    return data


def reveal_secrets(data: Any) -> Any:
    """A copy of ``data`` with each ``{"$secret": NAME}`` replaced by the credential it names."""
    if isinstance(data, dict):
        if set(data) == {"$secret"}:
            name = str(data["$secret"])
            with _lock:
                value = _kept.get(name)
            if value is None:
                value = os.environ.get(name)
            if value is None:
                raise MissingSecret(
                    f"a credential of this dispatcher executor is not available in this process: set the environment "
                    f"variable {name} to it (the workflow spec records only this name), or use a key file"
                )
            return value
        return {k: reveal_secrets(v) for k, v in data.items()}
    if isinstance(data, list):
        return [reveal_secrets(v) for v in data]
    return data
