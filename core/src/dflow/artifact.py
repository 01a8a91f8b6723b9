"""Artifacts in storage: ``upload_artifact``, ``download_artifact``, ``S3Artifact``, ``LocalArtifact``.

An artifact is a set of files under a storage key. Uploading keeps each file's
path relative to the current directory (an absolute path outside it keeps its
full path), and a catalog (``.dflow/catalog-*.json``) records the order of a
list upload or the keys of a dict upload, so an OP receives the same structure.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from .contract import (
    ARCHIVE_OBJECT,
    CATALOG_DIR,
    UnsafeArchiveError,
    mark_file,
    merge_part,
    merge_stacked,
    safe_extract,
    write_catalog,
)
from .contract import read_catalog as _read_catalog
from .errors import StorageError, ValidationError
from .linking import place
from .settings import config, s3_config
from .storage import StorageClient, local_path_of

__all__ = [
    "S3Artifact",
    "LocalArtifact",
    "CustomArtifact",
    "upload_artifact",
    "download_artifact",
    "get_storage_client",
    "storage_name",
    "upload_tree",
    "download_tree",
    "place_stored",
]



class S3Artifact:
    """An artifact held by the artifact store under ``key``."""

    def __init__(self, key: Optional[str] = None, bucket_name: Optional[str] = None, catalog: Optional[List[Dict[str, Any]]] = None,
                 archive: Optional[str] = None, storage: Optional[str] = None, path_list: Optional[List[str]] = None,
                 sub_path: Optional[str] = None, packed: Optional[str] = None, **kwargs: Any) -> None:
        if not key:
            raise ValidationError("S3Artifact needs a key (the storage prefix holding the files)")
        self.key = key.rstrip("/")
        self.bucket_name = bucket_name
        self.catalog = catalog
        self.archive = archive
        self.storage = storage
        self.path_list = path_list or []
        self.sub_path_value = sub_path
        self.packed = packed

    def sub_path(self, path: str) -> "S3Artifact":
        """This artifact narrowed to ``path`` inside it (an upload stored as one tarball stays one: the part is
        taken out of it)."""
        part = S3Artifact(key=self.key, bucket_name=self.bucket_name, archive=self.archive, storage=self.storage,
                          sub_path=str(path) if self.sub_path_value is None else f"{self.sub_path_value}/{path}",
                          packed=self.packed)
        if getattr(self, "local_path", None):
            part.local_path = self.local_path  # type: ignore[attr-defined]
        return part

    def __repr__(self) -> str:
        return f"S3Artifact(key={self.key!r})"

    def to_dict(self) -> Dict[str, Any]:
        return {"key": self.key, "bucket": self.bucket_name, "catalog": self.catalog,
                "archive": self.archive, "storage": self.storage, "packed": self.packed}


class LocalArtifact:
    """A file or directory on this machine used directly as an artifact (local backend)."""

    def __init__(self, local_path: Union[str, os.PathLike], sub_path: Optional[str] = None) -> None:
        self.local_path = os.path.abspath(os.fspath(local_path))
        if not os.path.exists(self.local_path):
            raise ValidationError(f"LocalArtifact: {self.local_path!r} does not exist")
        self.sub_path_value = sub_path

    def sub_path(self, path: str) -> "LocalArtifact":
        return LocalArtifact(self.local_path, sub_path=str(path) if self.sub_path_value is None
                             else f"{self.sub_path_value}/{path}")

    def __repr__(self) -> str:
        return f"LocalArtifact({self.local_path!r})"


class CustomArtifact(S3Artifact):
    """Base class of artifacts kept in a store of a plugin's own kind (the original's extension point).

    A subclass names its store in ``storage`` (a registered storage client) and is
    otherwise an :class:`S3Artifact` of that store: steps read it through that client.
    """


def get_storage_client(name: Optional[str] = None, **overrides: Any) -> StorageClient:
    """The storage client artifacts go through (``overrides`` replace ``s3_config`` options).

    ``s3_config["storage_client"]`` wins; then the storage plugin named by ``name``
    or ``s3_config["storage_type"]``; then the default storage of the selected backend
    (``config["mode"]``): the local filesystem under ``config["debug_workdir"]`` for
    the local backend, the cluster's artifact repository for a cluster backend.
    """
    custom = s3_config.get("storage_client")
    if custom is not None and name in (None, "custom"):
        if not isinstance(custom, StorageClient) and not all(
            hasattr(custom, m) for m in ("upload", "download", "list", "copy")
        ):
            raise ValidationError(
                f"s3_config['storage_client'] must be a dflow.StorageClient (upload, download, list, copy, get_md5), "
                f"got {type(custom).__name__}"
            )
        return custom
    name = name or storage_name()
    from .plugins import get_storage_factory

    factory = get_storage_factory(name)
    options = {k: v for k, v in s3_config.items() if k != "storage_client"}
    options.setdefault("root", os.path.abspath(config.get("debug_workdir") or "."))
    options.update(overrides)
    return factory(**options)


def storage_name(backend: Any = None) -> str:
    """The registered name of the storage artifacts go through (``"custom"`` for ``s3_config["storage_client"]``).

    With nothing configured it is the default storage of ``backend`` (a backend class or
    instance; by default the one ``config["mode"]`` selects): a cluster backend that
    renders a workflow while the local backend is selected asks for its own.
    """
    if s3_config.get("storage_client") is not None:
        return "custom"
    name = s3_config.get("storage_type")
    if name is None:
        if backend is None:
            from ._plugin_manager import backend_factory_for_mode

            backend = backend_factory_for_mode()
        name = getattr(backend, "default_storage", None) or "s3"
    return name


def _relative_in_artifact(path: str) -> str:
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd:
        return os.path.basename(absolute)
    if absolute.startswith(cwd + os.sep):
        return os.path.relpath(absolute, cwd)
    return absolute.lstrip(os.sep)


def _stage_item(src: str, staging: str) -> str:
    if not os.path.exists(src):
        raise ValidationError(f"upload_artifact: {src!r} does not exist")
    rel = _relative_in_artifact(src)
    dst = os.path.join(staging, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=False, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)
    return Path(rel).as_posix()


def upload_tree(client: StorageClient, key: str, directory: str) -> None:
    """Upload every file below ``directory`` to ``key/<relative path>``."""
    if local_path_of(client, key) is not None:  # a store on this disk takes a directory at once
        client.upload(key, directory)
        return
    for root, _dirs, files in os.walk(directory):
        for fn in files:
            full = os.path.join(root, fn)
            rel = os.path.relpath(full, directory).replace(os.sep, "/")
            client.upload(f"{key}/{rel}", full)


def download_tree(client: StorageClient, key: str, directory: str) -> Optional[str]:
    """Download every object below ``key`` into ``directory`` (extracting a tar archive).

    A key that is one object (a file given to ``upload_s3``) is downloaded into ``directory``
    under the key's last name, which is returned (None for a tree)."""
    local = local_path_of(client, key)
    if local is not None and os.path.isfile(local):
        name = posixpath.basename(key.rstrip("/"))
        client.download(key, os.path.join(directory, name))
        return name
    if local is not None:
        client.download(key, directory)
    else:
        keys = client.list(key + "/", recursive=True)
        if not keys and client.list(key) == [key]:
            name = posixpath.basename(key)
            client.download(key, os.path.join(directory, name))
            return name
        if not keys:
            raise StorageError(f"no artifact at key {key!r} in {client!r}")
        for k in keys:
            rel = k[len(key) + 1:]
            client.download(k, os.path.join(directory, rel))
    archive = os.path.join(directory, ARCHIVE_OBJECT)
    if os.path.isfile(archive):
        try:
            with tarfile.open(archive) as tf:
                safe_extract(tf, directory)
        except UnsafeArchiveError as e:
            raise StorageError(f"artifact {key!r}: {e}") from None
        os.unlink(archive)
    return None


def place_stored(art: Any, target: str, client_for: Callable[[], StorageClient],
                 missing: Callable[[str], Exception] = StorageError, method: str = "copy") -> None:
    """Put the files of one stored artifact (a ``StoredArtifact`` without parts) into the directory ``target``,
    as a step finds its input there.

    A file on this machine given alone (a ``LocalArtifact`` of a file) and a ``sub_path`` are
    placed under their names, with a catalog naming them; a key that is one object lands
    under its last name. A part the user took (``picked``) is placed as itself: a folder's
    files at ``target``, a file marked as the artifact (see :func:`dflow.contract.as_file`).
    ``client_for()`` gives the artifact's store, asked only when the files are not on this
    machine; a missing artifact raises ``missing(message)``. Files on this machine are placed
    by ``method`` (see :mod:`dflow.linking`: copies, hard links or symbolic links).
    """
    sub = art.sub_path
    local = art.local_path if art.local_path and os.path.exists(art.local_path) else None
    if local is None and art.storage is not None:
        client = client_for()
        local = local_path_of(client, art.key)
        if local is not None and not os.path.exists(local):
            raise missing(f"artifact {art.key!r} is missing from {client!r}")
    if local is not None:
        src = os.path.join(local, sub) if sub else local
        if not os.path.lexists(src):
            raise missing(f"artifact {local!r} has no {sub!r} inside")
        if sub and art.picked:
            _place_picked(src, target, method)
        elif os.path.isdir(local) or sub:
            if sub:
                place(src, os.path.join(target, sub), method)
                write_catalog(target, [{"index": None, "key": None, "path": sub}])
            else:
                place(src, target, method)
        else:  # a single file given as an artifact (LocalArtifact of a file)
            place(src, os.path.join(target, os.path.basename(src)), method)
            if art.storage is None:
                mark_file(target, os.path.basename(src))
        return
    client = client_for()
    if sub and art.picked:
        with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(target))) as got:
            try:
                if art.packed:  # one tarball holds the files: the part is taken out of it
                    download_tree(client, art.key, got)
                    src = os.path.join(got, sub)
                else:  # the objects below the part's key, or the one object that is the part
                    single = download_tree(client, f"{art.key}/{sub}", got)
                    src = os.path.join(got, single) if single else got
            except StorageError:
                src = ""
            if not src or not os.path.lexists(src):
                raise missing(f"artifact {art.key!r} has no {sub!r} inside")
            _place_picked(src, target, "copy")
    elif sub:
        os.makedirs(target, exist_ok=True)
        for k in client.list(f"{art.key}/{sub}", recursive=True):
            client.download(k, os.path.join(target, k[len(art.key) + 1:]))
        write_catalog(target, [{"index": None, "key": None, "path": sub}])
    else:
        single = download_tree(client, art.key, target)
        if single is not None:  # one object (upload_s3 of a file): the artifact is that file
            mark_file(target, single)


def _place_picked(src: str, target: str, method: str) -> None:
    """A part taken with ``.sub_path()`` as a pod gets it: a folder's files at ``target``, a file as the artifact."""
    if os.path.isdir(src):
        place(src, target, method)
        return
    name = os.path.basename(src)
    place(src, os.path.join(target, name), method)
    mark_file(target, name)


def _leaves(value: Any, prefix: str) -> List[Any]:
    """``(key path, leaf)`` of a nested dict/list of paths, in order."""
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    out: List[Any] = []
    for k, v in pairs:
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, (dict, list, tuple)):
            out.extend(_leaves(v, key))
        else:
            out.append((key, v))
    return out


def upload_artifact(
    files: Any,
    archive: Any = "default",
    namespace: Optional[str] = None,
    dataset_name: Optional[str] = None,
    description: str = "",
    tags: Optional[List[str]] = None,
    properties: Optional[Dict[str, str]] = None,
    storage_client: Optional[StorageClient] = None,
    **kwargs: Any,
) -> S3Artifact:
    """Upload a path, a list of paths or a dict of paths; return the artifact (3.1.2)."""
    if archive == "default":
        archive = config.get("archive_mode", "tar")
    if archive not in ("tar", None):
        raise ValidationError(f"upload_artifact: archive must be 'tar' or None, got {archive!r}")
    if isinstance(files, (str, os.PathLike)):
        entries = [(None, None, os.fspath(files))]
    elif isinstance(files, dict) or (isinstance(files, (list, tuple)) and any(isinstance(v, (list, tuple, dict))
                                                                             for v in files)):
        # nested dicts and lists: each path under its key path ("a/b", "k/0"), as dflow flattens them
        entries = [(None, k, os.fspath(v)) for k, v in _leaves(files, "") if v is not None]
    elif isinstance(files, (list, tuple)):
        # None keeps a place: item i is the i-th entry, so an entry left out leaves its slice without one
        entries = [(i, None, os.fspath(v)) for i, v in enumerate(files) if v is not None]
    else:
        raise ValidationError(
            f"upload_artifact takes a path, a list of paths or a dict of paths, got {type(files).__name__}"
        )
    client = storage_client or get_storage_client()
    # s3_config["prefix"] is applied by the storage client itself (it namespaces every key)
    key = f"upload/{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="dflow-upload-") as staging:
        catalog = []
        for index, k, src in entries:
            rel = _stage_item(src, staging)
            catalog.append({"index": index, "key": k, "path": rel})
        write_catalog(staging, catalog)
        packed = None
        if archive == "tar" and local_path_of(client, key) is None:  # a remote store: one object, not many
            packed = ARCHIVE_OBJECT
            tarball = os.path.join(tempfile.gettempdir(), f"dflow-{uuid.uuid4().hex}.tgz")
            try:
                with tarfile.open(tarball, "w:gz") as tf:
                    for name in sorted(os.listdir(staging)):
                        tf.add(os.path.join(staging, name), arcname=name)
                client.upload(f"{key}/{ARCHIVE_OBJECT}", tarball)
            finally:
                if os.path.exists(tarball):
                    os.unlink(tarball)
        else:
            upload_tree(client, key, staging)
    art = S3Artifact(key=key, catalog=catalog, archive=archive, storage=storage_name(),
                     bucket_name=s3_config.get("bucket_name"), path_list=[c["path"] for c in catalog], packed=packed)
    # a store of files on this machine: remember where, so a later change of directory (a store
    # rooted at ".") does not lose the upload
    art.local_path = local_path_of(client, key)
    return art


def read_catalog(directory: str) -> List[Dict[str, Any]]:
    """The catalog items below ``directory``, merged from every catalog file, in order."""
    return _read_catalog(directory) or []


def download_artifact(
    artifact: Any,
    extract: bool = True,
    sub_path: Optional[str] = None,
    path: Union[str, os.PathLike] = ".",
    skip_exists: bool = False,
    storage_client: Optional[StorageClient] = None,
    slice: Optional[int] = None,  # noqa: A002 - dflow's name
    **kwargs: Any,
) -> Any:
    """Download an artifact (an upload, or a step's output) into ``path``.

    Returns the paths of the items this artifact holds: a list for a list upload (in
    order), a dict by key for a dict upload (or a dict output), as dflow gives them, else
    the downloaded top-level entries. Earlier downloads into the
    same directory do not count, and no catalog is left behind (as in dflow).
    ``slice=N``: only item ``N`` of a list artifact (a gathered output, a list upload);
    returns its path, as dflow does.
    """
    from .io import ArtifactSlice

    target = os.path.abspath(os.fspath(path))
    os.makedirs(target, exist_ok=True)
    parts = [sub_path] if sub_path else []
    while isinstance(artifact, ArtifactSlice):  # a step's output narrowed: step.outputs.artifacts["x"].sub_path("a")
        parts.insert(0, artifact.path)
        artifact = artifact.artifact
    own = getattr(artifact, "sub_path_value", None)  # art.sub_path("a"): that part, as dflow narrows the key
    if own:
        parts.insert(0, str(own))
    sub_path = "/".join(parts) or None
    if slice is not None:
        return _download_item(artifact, int(slice), target, storage_client, extract)
    with tempfile.TemporaryDirectory(dir=target, prefix=".dflow-download-") as staging:
        _fetch_into(artifact, staging, sub_path, storage_client, extract)
        items = read_catalog(staging) if not sub_path else []
        names = sorted(n for n in os.listdir(staging) if n != CATALOG_DIR)
        for name in names:
            src, dst = os.path.join(staging, name), os.path.join(target, name)
            if skip_exists and os.path.lexists(dst):
                continue
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
            else:
                os.replace(src, dst)
    if items and all(c.get("key") is not None for c in items):
        return _by_key(items, target)  # a dict upload (a dict output): the paths by key, as dflow gives them
    if items:
        return [os.path.join(target, c["path"]) for c in items if c.get("path") is not None]
    return [os.path.join(target, n) for n in names]


def _by_key(items: List[Dict[str, Any]], target: str) -> Dict[str, Any]:
    """``{key: path}`` of a catalog whose items have keys; a key path (``a/b``) nests, and a level whose
    keys are all indexes is a list."""
    from .stepio import lists_by_index

    out: Dict[str, Any] = {}
    for c in items:
        *heads, last = str(c["key"]).split("/")
        d = out
        for k in heads:
            d = d.setdefault(k, {})
        d[last] = None if c.get("path") is None else os.path.join(target, c["path"])
    return {k: lists_by_index(v) for k, v in out.items()}


def _download_item(artifact: Any, index: int, target: str, storage_client: Optional[StorageClient],
                   extract: bool) -> str:
    from .contract import slice_item

    with tempfile.TemporaryDirectory(dir=target, prefix=".dflow-download-") as staging:
        _fetch_into(artifact, staging, None, storage_client, extract)
        item = slice_item(read_catalog(staging), index)
        if item is None or item.get("path") is None:
            raise ValidationError(f"download_artifact: the artifact has no item {index} (slice={index}); "
                                  "give the index of one of its items, or no slice to download it whole")
        src, dst = os.path.join(staging, item["path"]), os.path.join(target, item["path"])
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
    return dst


def _unpack_tarball(tarball: str, staging: str, key: str, sub_path: Optional[str] = None) -> None:
    """Replace the tarball Argo made of an output (its default archive, a ``.tgz`` key) by what it holds
    (``sub_path``: only that part of it).

    As Argo does when a step reads it, a single top-level entry is the artifact itself: a
    directory's contents land in ``staging``, a file keeps its name.
    """
    unpacked = tempfile.mkdtemp(dir=staging, prefix=".unpack-")
    try:
        with tarfile.open(tarball) as tf:
            safe_extract(tf, unpacked)
    except (tarfile.TarError, UnsafeArchiveError) as e:
        raise StorageError(f"artifact {key!r}: not a tarball dflow can unpack: {e}") from None
    finally:
        os.unlink(tarball)
    entries = os.listdir(unpacked)
    root = unpacked
    if len(entries) == 1 and os.path.isdir(os.path.join(unpacked, entries[0])):
        root = os.path.join(unpacked, entries[0])
    if sub_path:
        holds = sorted(os.listdir(root))
        root = os.path.join(root, sub_path)
        if not os.path.exists(root):
            shutil.rmtree(unpacked)
            raise StorageError(f"artifact {key!r} has no {sub_path!r}; give sub_path one of {holds}")
    if os.path.isdir(root):
        for name in os.listdir(root):
            os.replace(os.path.join(root, name), os.path.join(staging, name))
    else:
        os.replace(root, os.path.join(staging, os.path.basename(root)))
    shutil.rmtree(unpacked)


def _fetch_into(artifact: Any, staging: str, sub_path: Optional[str], storage_client: Optional[StorageClient],
                extract: bool = True) -> None:
    """Put the files of ``artifact`` (its catalog included) into the empty directory ``staging``."""
    stored = getattr(artifact, "_stored", artifact)
    parts = getattr(stored, "parts", None)
    if parts is not None:
        # the stacked output artifact of parallel steps: its parts merged in order
        for i, part in enumerate(parts):  # each part is a StoredArtifact (key, storage, local path)
            part_dir = os.path.join(staging, f".part-{i}")
            os.makedirs(part_dir)
            _fetch_into(part, part_dir, None, storage_client, extract)
            merge_part(part_dir, staging, i, stacked=bool(getattr(stored, "stacked", False)))
            shutil.rmtree(part_dir, ignore_errors=True)
        return
    local = getattr(artifact, "local_path", None)
    key = getattr(artifact, "key", None)
    if local and os.path.exists(local):  # on this machine (a LocalArtifact, a local run's output)
        src = os.path.join(local, sub_path) if sub_path else local
        if os.path.isdir(src):
            shutil.copytree(src, staging, dirs_exist_ok=True)
        else:
            shutil.copy2(src, os.path.join(staging, os.path.basename(src)))
        return
    if not key:
        raise ValidationError(f"download_artifact: {artifact!r} is not an artifact (it has no key or local path)")
    client = storage_client or _client_for(artifact)
    if extract and key.endswith(".tgz") and _is_file_key(client, key):
        # an output Argo stored as one tarball (a part of it, for a sub-path): unpacked
        dst = os.path.join(staging, os.path.basename(key))
        client.download(key, dst)
        _unpack_tarball(dst, staging, key, sub_path)
        return
    if sub_path and getattr(artifact, "packed", None):  # an upload stored as one tarball: the part taken out of it
        with tempfile.TemporaryDirectory(prefix=".dflow-whole-", dir=os.path.dirname(staging)) as whole:
            download_tree(client, key, whole)
            src = os.path.join(whole, sub_path)
            if not os.path.lexists(src):
                raise StorageError(f"artifact {key!r} has no {sub_path!r} inside")
            if os.path.isdir(src):
                shutil.copytree(src, staging, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(src, os.path.join(staging, os.path.basename(src)))
        return
    if sub_path:
        key = f"{key}/{sub_path}"
    if _is_file_key(client, key):
        client.download(key, os.path.join(staging, os.path.basename(key)))
    else:
        download_tree(client, key, staging)
        merge_stacked(staging)  # a gathered artifact stored as parts under one prefix


def _is_file_key(client: StorageClient, key: str) -> bool:
    local = local_path_of(client, key)
    if local is not None:
        return os.path.isfile(local)
    return client.list(key) == [key]


def _client_for(artifact: Any) -> StorageClient:
    storage = getattr(artifact, "storage", None)
    # a configured storage client stands in for the artifact store of every remote artifact,
    # as s3_config["storage_client"] does in dflow
    if storage in (None, "custom") or s3_config.get("storage_client") is not None:
        return get_storage_client()
    return get_storage_client(storage)
