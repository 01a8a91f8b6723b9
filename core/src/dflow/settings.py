"""Global settings: ``config`` (engine and server) and ``s3_config`` (artifact storage).

Both are plain dicts, as in the original dflow, so existing code that assigns
``config["mode"] = "debug"`` keeps working. Every key can also be set from the
environment as ``DFLOW_<KEY>`` (``DFLOW_MODE=debug``) or ``DFLOW_S3_<KEY>``.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from .errors import ValidationError

__all__ = ["config", "s3_config", "set_config", "set_s3_config"]


def _env_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


config: Dict[str, Any] = {
    # which backend runs workflows: "debug" (local engine) or "default"/"argo"
    "mode": "default",
    # Argo Server
    "host": "https://127.0.0.1:2746",
    "token": None,
    "namespace": "argo",
    "verify_ssl": True,
    "k8s_api_server": None,
    "k8s_config_file": None,
    "http_headers": None,
    # local engine
    "debug_workdir": ".",
    "debug_workers": None,
    "detach": False,
    # artifacts
    "archive_mode": "tar",
    "save_path_as_parameter": False,
    "util_image": "python:3.8",
    "util_image_pull_policy": None,
    "workflow_annotations": {},
    "overwrite_reused_artifact": True,
}

s3_config: Dict[str, Any] = {
    "endpoint": "127.0.0.1:9000",
    "console": "http://127.0.0.1:9001",
    "access_key": "admin",
    "secret_key": "password",
    "secure": False,
    "bucket_name": "my-bucket",
    "region": None,
    "repo_key": None,
    "repo": None,
    "repo_type": "s3",
    "repo_prefix": "",
    "prefix": "",
    "storage_client": None,
    "storage_type": None,
    "extra_prefixes": [],
}

_BOOL_KEYS = {"verify_ssl", "detach", "save_path_as_parameter", "overwrite_reused_artifact", "secure"}
_INT_KEYS = {"debug_workers"}


def _from_env(target: Dict[str, Any], prefix: str) -> None:
    for key in list(target):
        raw = os.environ.get(prefix + key.upper())
        if raw is None:
            continue
        if key in _BOOL_KEYS:
            target[key] = _env_bool(raw)
        elif key in _INT_KEYS:
            target[key] = int(raw)
        elif key == "archive_mode" and raw.lower() in ("none", ""):
            target[key] = None
        else:
            target[key] = raw


_from_env(config, "DFLOW_")
_from_env(s3_config, "DFLOW_S3_")


def set_config(**kwargs: Any) -> None:
    """Set keys of ``config``; an unknown key is refused with the list of known ones."""
    _update(config, "config", kwargs)


def set_s3_config(**kwargs: Any) -> None:
    """Set keys of ``s3_config``; an unknown key is refused with the list of known ones."""
    _update(s3_config, "s3_config", kwargs)


def _update(target: Dict[str, Any], what: str, kwargs: Dict[str, Any]) -> None:
    unknown = sorted(set(kwargs) - set(target))
    if unknown:
        raise ValidationError(
            f"unknown {what} key(s) {unknown}; known keys are {sorted(target)}"
        )
    target.update(kwargs)
