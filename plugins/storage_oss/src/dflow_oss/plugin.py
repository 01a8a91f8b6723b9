"""Registers :class:`~dflow_oss.client.OSSClient` with the dflow kernel.

Listed in the ``dflow.storage`` entry-point group as ``oss``; selected by
``s3_config["storage_type"] = "oss"``. Also makes the original import path
``dflow.plugins.oss`` resolve to this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from dflow.plugins import hookimpl

if TYPE_CHECKING:
    from .client import OSSClient

__all__ = ["register_storage_clients", "register_legacy_modules", "oss_from_s3_config"]


def oss_from_s3_config(
    endpoint: Optional[str] = None,
    bucket_name: Optional[str] = None,
    access_key: Optional[str] = None,
    secret_key: Optional[str] = None,
    secure: Any = False,
    oss_secret: Optional[str] = None,
    oss_cluster_endpoint: Optional[str] = None,
    **options: Any,
) -> "OSSClient":
    """An :class:`OSSClient` from ``s3_config``'s keys (keys it does not know are ignored).

    ``endpoint``, ``bucket_name``, ``access_key`` and ``secret_key`` mean what they
    mean for S3; a ``None`` or empty one is read from ``OSS_ENDPOINT``,
    ``OSS_BUCKET_NAME``, ``OSS_ACCESS_KEY_ID`` or ``OSS_ACCESS_KEY_SECRET``. An
    endpoint without a scheme gets ``https://`` when ``secure`` is true.
    ``oss_secret`` and ``oss_cluster_endpoint`` are the client's ``k8s_secret``
    and ``cluster_endpoint``.
    """
    if endpoint and "://" not in endpoint and str(secure).strip().lower() in ("1", "true", "yes", "on"):
        endpoint = "https://" + endpoint
    from .client import OSSClient  # oss2 loads here, when the store is used

    return OSSClient(endpoint, bucket_name, access_key, secret_key, k8s_secret=oss_secret,
                     cluster_endpoint=oss_cluster_endpoint, **options)


@hookimpl
def register_storage_clients(register: Any) -> None:
    """Register the OSS client as ``oss``."""
    register("oss", oss_from_s3_config)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """Make ``dflow.plugins.oss`` resolve to this package."""
    register("oss", "dflow_oss")
