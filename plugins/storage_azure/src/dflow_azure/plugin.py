"""Registers :class:`~dflow_azure.client.AzureStorageClient` with the dflow kernel.

Listed in the ``dflow.storage`` entry-point group as ``azure``; selected by
``s3_config["storage_type"] = "azure"``. Also makes the import path
``dflow.plugins.azure`` resolve to this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from dflow.plugins import hookimpl

if TYPE_CHECKING:
    from .client import AzureStorageClient

__all__ = ["register_storage_clients", "register_legacy_modules", "azure_from_s3_config"]


def azure_from_s3_config(
    azure_connection_string: Optional[str] = None,
    azure_container: Optional[str] = None,
    azure_account_url: Optional[str] = None,
    azure_credential: Any = None,
    bucket_name: Optional[str] = None,
    azure_secret: Optional[str] = None,
    azure_use_sdk_creds: bool = False,
    azure_cluster_endpoint: Optional[str] = None,
    **options: Any,
) -> "AzureStorageClient":
    """An :class:`AzureStorageClient` from ``s3_config``'s keys (keys it does not know are ignored).

    ``azure_connection_string`` (else ``AZURE_STORAGE_CONNECTION_STRING``), or
    ``azure_account_url`` with ``azure_credential``; the container is
    ``azure_container``, else ``bucket_name``. ``azure_secret``,
    ``azure_use_sdk_creds`` and ``azure_cluster_endpoint`` are the client's
    ``k8s_secret``, ``use_sdk_creds`` and ``cluster_endpoint``. S3's ``endpoint``,
    ``access_key`` and ``secret_key`` are not used.
    """
    for s3_only in ("endpoint", "access_key", "secret_key", "container_name", "connection_string",
                    "account_url", "credential"):
        options.pop(s3_only, None)
    from .client import AzureStorageClient  # the Azure SDK loads here, when the store is used

    return AzureStorageClient(azure_connection_string, azure_container or bucket_name, azure_account_url,
                              azure_credential, k8s_secret=azure_secret, use_sdk_creds=azure_use_sdk_creds,
                              cluster_endpoint=azure_cluster_endpoint, **options)


@hookimpl
def register_storage_clients(register: Any) -> None:
    """Register the Azure client as ``azure``."""
    register("azure", azure_from_s3_config)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """Make ``dflow.plugins.azure`` resolve to this package."""
    register("azure", "dflow_azure")
