"""Registers :class:`~dflow_gcs.client.GCSStorageClient` with the dflow kernel.

Listed in the ``dflow.storage`` entry-point group as ``gcs``; selected by
``s3_config["storage_type"] = "gcs"``. Also makes the import path
``dflow.plugins.gcs`` resolve to this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from dflow.plugins import hookimpl

if TYPE_CHECKING:
    from .client import GCSStorageClient

__all__ = ["register_storage_clients", "register_legacy_modules", "gcs_from_s3_config"]


def gcs_from_s3_config(
    bucket_name: Optional[str] = None,
    gcs_project: Optional[str] = None,
    gcs_credentials_file: Optional[str] = None,
    gcs_credentials: Any = None,
    gcs_api_endpoint: Optional[str] = None,
    gcs_secret: Optional[str] = None,
    **options: Any,
) -> "GCSStorageClient":
    """A :class:`GCSStorageClient` from ``s3_config``'s keys (keys it does not know are ignored).

    ``bucket_name`` is the bucket; ``gcs_project``, ``gcs_credentials`` (a
    ``google.auth`` credentials object), ``gcs_credentials_file`` and
    ``gcs_api_endpoint`` are the client's ``project``, ``credentials``,
    ``credentials_file`` and ``api_endpoint``; ``gcs_secret`` its ``k8s_secret``. Google's own settings
    (``GOOGLE_APPLICATION_CREDENTIALS``, ``STORAGE_EMULATOR_HOST``) apply as usual.
    S3's ``endpoint``, ``access_key`` and ``secret_key`` are not used.
    """
    for s3_only in ("endpoint", "access_key", "secret_key", "project", "credentials", "credentials_file",
                    "api_endpoint"):
        options.pop(s3_only, None)
    from .client import GCSStorageClient  # google-cloud-storage loads here, when the store is used

    return GCSStorageClient(bucket_name, gcs_project, gcs_credentials, credentials_file=gcs_credentials_file,
                            api_endpoint=gcs_api_endpoint, k8s_secret=gcs_secret, **options)


@hookimpl
def register_storage_clients(register: Any) -> None:
    """Register the Google Cloud Storage client as ``gcs``."""
    register("gcs", gcs_from_s3_config)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """Make ``dflow.plugins.gcs`` resolve to this package."""
    register("gcs", "dflow_gcs")
