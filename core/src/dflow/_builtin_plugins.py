"""The storage client shipped with core, registered the way a third-party plugin would be."""

from __future__ import annotations

from ._plugin_manager import hookimpl
from .storage import LocalStorageClient


def _local_factory(**options: object) -> LocalStorageClient:
    root = options.get("root") or options.get("local_root")
    return LocalStorageClient(root=str(root) if root else None)


@hookimpl
def register_storage_clients(register):  # type: ignore[no-untyped-def]
    register("local", _local_factory)
