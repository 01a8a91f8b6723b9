"""Google Cloud Storage artifact storage for dflow (``from dflow.plugins.gcs import GCSStorageClient``)."""

from typing import Any

__all__ = ["GCSStorageClient"]


def __getattr__(name: str) -> Any:
    # lazy: the plugin manager imports dflow_gcs.plugin in every dflow session; google-cloud-storage loads when the store is used
    if name == "GCSStorageClient":
        from .client import GCSStorageClient

        return GCSStorageClient
    raise AttributeError(f"module 'dflow_gcs' has no attribute {name!r}")
