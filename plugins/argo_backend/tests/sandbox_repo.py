"""The artifact repository of the test "cluster": a local directory standing for Argo's default repository."""

from __future__ import annotations

from dflow.storage import ArtifactLocation, LocalStorageClient


class SandboxRepository(LocalStorageClient):
    """Objects under a local root; a manifest names them by key-only ``s3`` locations.

    The Argo sandbox (``argo_sandbox.py``) reads and writes key-only locations in this
    directory, as Argo reads and writes its default artifact repository.
    """

    def artifact_location(self, key: str) -> ArtifactLocation:
        return ArtifactLocation("s3", {"key": key})
