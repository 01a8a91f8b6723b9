"""S3-compatible artifact storage for dflow (AWS S3, MinIO, Ceph RGW), built on boto3."""

from typing import Any

__all__ = ["S3StorageClient", "MinioClient"]


def __getattr__(name: str) -> Any:
    # lazy: the plugin manager imports dflow_minio.plugin in every dflow session; boto3 loads when S3 is used
    if name == "S3StorageClient":
        from .client import S3StorageClient

        return S3StorageClient
    if name == "MinioClient":
        from .client import MinioClient

        return MinioClient
    raise AttributeError(f"module 'dflow_minio' has no attribute {name!r}")
