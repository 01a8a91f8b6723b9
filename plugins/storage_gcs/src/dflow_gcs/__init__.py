"""Google Cloud Storage artifact storage for dflow (``from dflow.plugins.gcs import GCSStorageClient``)."""

from .client import GCSStorageClient

__all__ = ["GCSStorageClient"]
