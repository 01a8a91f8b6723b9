"""Aliyun OSS artifact storage for dflow, built on oss2 (``from dflow.plugins.oss import OSSClient``)."""

from typing import Any

__all__ = ["OSSClient"]


def __getattr__(name: str) -> Any:
    # lazy: the plugin manager imports dflow_oss.plugin in every dflow session; oss2 loads when the store is used
    if name == "OSSClient":
        from .client import OSSClient

        return OSSClient
    raise AttributeError(f"module 'dflow_oss' has no attribute {name!r}")
