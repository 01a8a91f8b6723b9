"""Global settings: ``config`` (engine and server) and ``s3_config`` (artifact storage).

Both are plain dicts, as in the original dflow, so existing code that assigns
``config["mode"] = "debug"`` keeps working. Every key can also be set from the
environment as ``DFLOW_<KEY>`` (``DFLOW_MODE=debug``) or ``DFLOW_S3_<KEY>``.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from .errors import ValidationError

__all__ = ["config", "s3_config", "set_config", "set_s3_config", "boolize", "nullable", "split_headers"]


def _env_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def boolize(s: Any) -> Any:
    """``"false"``, ``"0"`` and ``""`` are False, any other text True; other values as they are."""
    if isinstance(s, str):
        return s.lower() not in ("", "false", "0")
    return s


def nullable(s: Any) -> Any:
    """``"none"`` (any case) is None; anything else as it is."""
    if isinstance(s, str) and s.lower() == "none":
        return None
    return s


def split_headers(s: Any) -> Any:
    """``"a:1;b:2"`` -> ``{"a": "1", "b": "2"}``; a dict as it is."""
    if isinstance(s, str):
        out = {}
        for h in s.split(";"):
            fields = h.split(":")
            if len(fields) == 2:
                out[fields[0]] = fields[1]
        return out
    return s


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
    # what each step printed (its log) is printed by the local engine too when the step ends, as in dflow
    "debug_echo_logs": True,
    # how a local step gets the files of its inputs: "copy" (its own copies, as a pod), "link" (hard
    # links) or "symlink" (dflow's default in its debug mode); see dflow.linking
    "debug_copy_method": "copy",
    "detach": False,
    # artifacts
    "archive_mode": "tar",
    "save_path_as_parameter": False,
    "util_image": "python:3.8",
    "util_image_pull_policy": None,
    "workflow_annotations": {},
    "overwrite_reused_artifact": True,
    # keys of the original dflow's config, accepted so that code setting them keeps working;
    # what they configured is done differently here (or by a plugin)
    "private_key_host_path": None,
    "catalog_dir_name": ".dflow",
    "extender_image": "dptechnology/dflow-extender",
    "extender_image_pull_policy": None,
    "dispatcher_image": "dptechnology/dpdispatcher",
    "dispatcher_image_pull_policy": None,
    "save_keys_in_global_outputs": False,
    "lineage": None,
    "register_tasks": False,
    "debug_pool_workers": None,
    "debug_batch_size": None,
    "debug_batch_interval": 30,
    "detect_empty_dir": True,
    "artifact_register": {},
    "debug_s3": False,
    "debug_artifact_dir": ".",
    "debug_failfast": False,
    "debug_save_copy_method": "copy",
    "raise_for_group": False,
    "dispatcher_debug": False,
    "dereference_symlink": False,
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
    # where a storage plugin's artifacts are for a cluster (Argo): secrets by name, never by value
    "s3_secret": None,
    "s3_cluster_endpoint": None,
    "oss_secret": None,
    "oss_cluster_endpoint": None,
    "azure_connection_string": None,
    "azure_account_url": None,
    "azure_credential": None,
    "azure_container": None,
    "azure_secret": None,
    "azure_use_sdk_creds": False,
    "azure_cluster_endpoint": None,
    "gcs_project": None,
    "gcs_credentials_file": None,
    "gcs_credentials": None,
    "gcs_api_endpoint": None,
    "gcs_secret": None,
}

_BOOL_KEYS = {"verify_ssl", "detach", "debug_echo_logs", "save_path_as_parameter", "overwrite_reused_artifact", "secure",
              "save_keys_in_global_outputs", "register_tasks", "detect_empty_dir", "debug_s3", "debug_failfast",
              "raise_for_group", "dispatcher_debug", "dereference_symlink", "azure_use_sdk_creds"}
_INT_KEYS = {"debug_workers", "debug_pool_workers", "debug_batch_size", "debug_batch_interval"}


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
if os.environ.get("DFLOW_HTTP_HEADERS"):
    config["http_headers"] = split_headers(os.environ["DFLOW_HTTP_HEADERS"])


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
