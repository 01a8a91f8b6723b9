"""Registers :class:`~dflow_minio.client.S3StorageClient` with the dflow kernel.

Listed in the ``dflow.storage`` entry-point group as ``s3``; selected by
``s3_config["storage_type"] = "s3"`` (or the alias ``"minio"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from dflow.plugins import hookimpl

if TYPE_CHECKING:
    from .client import S3StorageClient

__all__ = ["register_storage_clients", "register_legacy_modules"]


def _s3_factory(s3_secret: Optional[str] = None, s3_cluster_endpoint: Optional[str] = None,
                **options: Any) -> "S3StorageClient":
    """Build a client from ``s3_config``-style options (unknown keys are ignored; boto3 loads here);
    ``s3_secret`` and ``s3_cluster_endpoint`` are its ``k8s_secret`` and ``cluster_endpoint``."""
    from .client import S3StorageClient

    options.pop("k8s_secret", None)
    options.pop("cluster_endpoint", None)
    return S3StorageClient(k8s_secret=s3_secret, cluster_endpoint=s3_cluster_endpoint, **options)


@hookimpl
def register_storage_clients(register: Any) -> None:
    """Register the S3 client as ``s3``, also reachable as ``minio``."""
    register("s3", _s3_factory, aliases=("minio",))


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """Make ``dflow.plugins.minio`` resolve to this package."""
    register("minio", "dflow_minio")
