"""Azure Blob Storage artifact storage for dflow (``from dflow.plugins.azure import AzureStorageClient``)."""

from typing import Any

__all__ = ["AzureStorageClient"]


def __getattr__(name: str) -> Any:
    # lazy: the plugin manager imports dflow_azure.plugin in every dflow session; the Azure SDK loads when the store is used
    if name == "AzureStorageClient":
        from .client import AzureStorageClient

        return AzureStorageClient
    raise AttributeError(f"module 'dflow_azure' has no attribute {name!r}")
