"""Artifact locations in a manifest: asked of the storage clients, never written by hand.

Every artifact the manifest names gets the location its storage client gives
(:meth:`dflow.storage.StorageClient.artifact_location`): ``s3``, ``oss``, ``azure``,
``gcs``, ..., key-only (the cluster's default artifact repository fills in the rest) or
complete with Kubernetes secret names for the credentials. Files that are only on this
machine (a ``LocalArtifact``, a local run's output, core's ``dflow`` package, an OP's
``python_packages``) are named by a content-derived key in the configured store and
listed in :attr:`Locations.uploads`; :meth:`dflow_argo.ArgoBackend.submit` uploads them.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from dflow.artifact import get_storage_client, storage_name
from dflow.errors import PluginNotFoundError, StorageError
from dflow.spec import ArtifactArgument, StoredArtifact
from dflow.storage import StorageClient

from .package import Upload, dflow_package, package_key

__all__ = ["Locations", "merge_items"]


class _ClusterRepository(StorageClient):
    """The cluster's default artifact repository when its storage plugin is not installed here:
    it can be named (key-only locations) but not written to from this machine."""

    def __init__(self, storage: str) -> None:
        self.storage = storage

    def _missing(self, *_: Any, **__: Any) -> Any:
        from dflow.plugins import get_storage_factory

        get_storage_factory(self.storage)  # raises PluginNotFoundError naming the distribution
        raise AssertionError("unreachable")

    upload = download = list = copy = _missing


class Locations:
    """Locations of the artifacts of one manifest, and the uploads they need."""

    def __init__(self, key_prefix: str = "", client: Optional[StorageClient] = None,
                 default_storage: str = "s3") -> None:
        """``default_storage``: the cluster's store when ``s3_config`` names none (the Argo backend's)."""
        self.key_prefix = key_prefix
        self.default_storage = default_storage
        self.uploads: Dict[str, Upload] = {}
        self._clients: Dict[Optional[str], StorageClient] = {}
        if client is not None:
            self._clients[None] = client
        self._pkg_key: Optional[str] = None

    def client(self, storage: Optional[str] = None) -> StorageClient:
        """The client of a storage (by registered name; None or ``"custom"``: the cluster's configured one).

        The configured one is what ``s3_config`` names, else the cluster's default store,
        also while the local backend is selected (``wf.to_dict()`` in debug mode). When
        that store's plugin is not installed, rendering still works: the default store is
        the cluster's artifact repository, addressed by key only; uploading to it needs
        the plugin, and :meth:`ArgoBackend.submit` says which.
        """
        configured = storage_name(self)
        name = None if storage in (None, "custom", configured) else storage
        if name not in self._clients:
            try:
                self._clients[name] = get_storage_client(name or configured)
            except PluginNotFoundError:
                if name is not None or configured != self.default_storage:
                    raise
                self._clients[name] = _ClusterRepository(configured)
        return self._clients[name]

    def location(self, key: str, storage: Optional[str] = None) -> Dict[str, Any]:
        """``{kind: {...}}`` of the objects under ``key`` in ``storage``."""
        return self.client(storage).artifact_location(key).to_dict()

    def upload(self, local_path: str, kind: str) -> str:
        """The key a local file or directory will have in the configured store (uploaded at submission)."""
        key = package_key(local_path, self.key_prefix)
        self.uploads.setdefault(key, Upload(key, local_path, kind))
        return key

    @property
    def package_key(self) -> str:
        """The key of core's ``dflow`` package in the configured store."""
        if self._pkg_key is None:
            self._pkg_key = self.upload(dflow_package(), "dflow-package")
        return self._pkg_key

    def outputs_key_only(self) -> bool:
        """Whether step outputs may go to the cluster's default repository (the store is key-only)."""
        return self.client().artifact_location("x").key_only

    def stored(self, name: str, arg: ArtifactArgument) -> Dict[str, Any]:
        """The input artifact ``name`` of a step whose source is an artifact already stored."""
        st = arg.stored
        assert st is not None
        key, storage = self._reachable(st)
        sub = "/".join(x.strip("/") for x in (st.sub_path, arg.sub_path) if x)
        if st.packed and sub:
            from dflow.errors import ValidationError

            raise ValidationError(
                f"input artifact {name!r}: .sub_path({sub!r}) of an upload stored as one tarball ({st.key}/{st.packed});"
                " Argo takes a part of an artifact by its key, so upload the files unpacked:"
                " upload_artifact(..., archive=None)")
        if st.packed and key == st.key and not sub:
            # upload_artifact() stored one tarball under the key: Argo unpacks it in place
            key = key.rstrip("/") + "/" + st.packed
        if sub:
            key = key.rstrip("/") + "/" + sub
        return {"name": name, **self.location(key, storage)}

    def merged(self, name: str, arg: ArtifactArgument) -> Dict[str, Any]:
        """The input artifact ``name`` of a step that gives a list or a dict (dflow merges the items, in order).

        The items are merged on this machine as the local engine merges them, and the result is
        uploaded: at once when every item is a text or a file here, else when the workflow is
        submitted (uploads in the store are fetched then). Items that are other steps' outputs are
        merged by a pod before the step instead (see :mod:`dflow_argo.merging`).
        """
        import hashlib
        import json

        from dflow.errors import ValidationError

        leaves = _leaves(arg)
        for where, item in leaves:
            if item.raw is None and item.stored is None:
                raise ValidationError(  # the compiler gives such a list to a merging pod first
                    f"artifact {name!r}, {where} of the list or dict given as the artifact is a reference, "
                    "which only a step's argument may hold")
        if all(it.stored is None or _local(it.stored) for _, it in leaves):
            merged = _by_content(merge_items(arg, name, self.client))
            return {"name": name, **self.location(self.upload(merged, "local-artifact"))}
        payload = json.dumps({"name": name, "arg": arg.model_dump(mode="json")}, sort_keys=True)
        key = f"{self.key_prefix}dflow/merged/{hashlib.sha1(payload.encode()).hexdigest()}"
        self.uploads.setdefault(key, Upload(key, payload, "merged-artifact"))
        return {"name": name, **self.location(key)}

    def _reachable(self, st: StoredArtifact) -> "tuple[str, Optional[str]]":
        """Where a stored artifact is for the cluster: in its store (None: the configured one), or an
        upload of its copy on this machine (a ``LocalArtifact``; an output of a local run)."""
        local = st.local_path if st.local_path and os.path.exists(st.local_path) else None
        if st.storage is None and local is not None:
            return self.upload(local, "local-artifact"), None
        client = self.client(st.storage)
        try:
            client.artifact_location(st.key)
            return st.key, st.storage
        except StorageError:
            if local is None:  # a store of files on this machine (the local backend's): upload its copy
                found = client.local_path(st.key)
                local = found if found and os.path.exists(found) else None
            if local is None:
                raise
        return self.upload(local, "local-artifact"), None


def _by_content(merged: str) -> str:
    """The folder of merged items kept for the upload at submission, named by its content: rendering the
    same workflow again finds it (one folder, one storage key) instead of leaving another behind."""
    import hashlib
    import shutil
    import tempfile

    h = hashlib.sha256()
    for root, dirs, files in os.walk(merged):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(root, f)
            h.update(os.path.relpath(full, merged).encode() + b"\0")
            with open(full, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            h.update(b"\0")
    kept = os.path.join(tempfile.gettempdir(), f"dflow-merged-{h.hexdigest()[:20]}")
    try:
        os.rename(merged, kept)  # fails when an earlier render kept the same content
    except OSError:
        shutil.rmtree(merged, ignore_errors=True)
    return kept


def _local(st: StoredArtifact) -> bool:
    return bool(st.local_path and os.path.exists(st.local_path))


def _leaves(arg: ArtifactArgument, where: str = "") -> "List[tuple[str, ArtifactArgument]]":
    """``(where, item)`` of the items of a list or dict given as an artifact, nested lists and dicts included."""
    out = []
    for i, item in enumerate(arg.items or []):
        here = (f"key {arg.item_keys[i]!r}" if arg.item_keys else f"item {i}") + (f" of {where}" if where else "")
        out.extend(_leaves(item, here) if item.items is not None else [(here, item)])
    return out


def merge_items(arg: ArtifactArgument, name: str, client_for: Any) -> str:
    """A new directory holding the items of ``arg`` (texts, stored artifacts, lists and dicts of them) merged in
    order, placed and merged as the local engine places and merges the parts of an input (by key, for a dict);
    ``client_for(storage)`` gives the store of an upload."""
    import shutil
    import tempfile

    from dflow.artifact import place_stored
    from dflow.contract import key_part, merge_part, write_catalog
    from dflow.errors import ValidationError

    def refused(message: str) -> Exception:
        return ValidationError(f"artifact {name!r}, item {i} of the list given as the artifact: {message}")

    merged = tempfile.mkdtemp(prefix="dflow-merged-")
    try:
        for i, item in enumerate(arg.items or []):
            part = os.path.join(merged, f".part-{i}")
            if item.items is not None:  # a list or dict inside: merged first, then one part
                shutil.move(merge_items(item, name, client_for), part)
            else:
                st = item.stored
                if item.raw is not None:  # a text: a file named as the input, as the local engine writes it
                    raw = os.path.join(merged, f".raw-{i}", name)
                    os.makedirs(os.path.dirname(raw))
                    with open(raw, "w") as f:
                        f.write(item.raw)
                    st = StoredArtifact(key=raw, local_path=raw)
                assert st is not None
                sub = "/".join(x.strip("/") for x in (st.sub_path, item.sub_path) if x) or None
                st = st.model_copy(update={"sub_path": sub})
                place_stored(st, part, lambda st=st: client_for(st.storage), refused)
            if arg.item_keys:
                key_part(part, arg.item_keys[i])
            merge_part(part, merged, i)
            shutil.rmtree(part, ignore_errors=True)
            shutil.rmtree(os.path.join(merged, f".raw-{i}"), ignore_errors=True)
        if not os.listdir(merged):  # no item (an empty list or dict): an empty catalog, so the upload is not nothing
            write_catalog(merged, [])
    except BaseException:
        shutil.rmtree(merged, ignore_errors=True)
        raise
    return merged
