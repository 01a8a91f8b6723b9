"""Azure Blob Storage artifact storage for dflow (``from dflow.plugins.azure import AzureStorageClient``)."""

from .client import AzureStorageClient

__all__ = ["AzureStorageClient"]
