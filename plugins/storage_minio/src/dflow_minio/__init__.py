"""S3-compatible artifact storage for dflow (AWS S3, MinIO, Ceph RGW), built on boto3."""

from .client import S3StorageClient

__all__ = ["S3StorageClient"]
