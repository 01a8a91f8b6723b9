"""Artifact storage: the ``StorageClient`` interface and the local filesystem client.

A storage client moves bytes under string keys and knows nothing of workflows.
Keys are ``/``-separated relative paths (``"upload/3f2a/data.txt"``); a key that
names a directory prefix holds every object below it.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import StorageError

__all__ = ["StorageClient", "LocalStorageClient", "ArtifactLocation", "SecretRef", "Secret", "checked_key",
           "run_concurrently", "files_to_upload", "local_path_of"]


class Secret:
    """A credential held by a storage client: never shown by ``repr``, ``str`` or f-strings,
    and never pickled (a client is rebuilt from its settings where it is needed)."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return "'***'" if self._value else "None"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a storage credential cannot be pickled; build the client again from its settings")


def checked_key(key: Any, prefix: bool = False) -> str:
    """``key`` when it is a relative storage key without ``..`` parts, else a StorageError naming it.

    ``prefix``: a listing prefix, which may be empty.
    """
    if not isinstance(key, str) or (not key and not prefix):
        raise StorageError(f"storage key must be a non-empty string, got {key!r}")
    if key.startswith("/") or ".." in key.split("/"):
        raise StorageError(f"storage key {key!r} must be relative and must not contain '..' parts")
    return key


def files_to_upload(path: Any, base: str, key: str) -> List[Any]:
    """``(file, object key)`` pairs for uploading ``path`` under the full key ``base``: the file
    itself, or every file below the directory (``base/<relative path>``). ``key`` names the
    upload in the error when ``path`` does not exist."""
    src = Path(path)
    if not src.exists():
        raise StorageError(f"cannot upload {str(src)!r} to key {key!r}: no such file or directory")
    base = base.rstrip("/")
    if src.is_dir():
        return [(p, f"{base}/{p.relative_to(src).as_posix()}") for p in sorted(src.rglob("*")) if p.is_file()]
    return [(src, base)]


def run_concurrently(jobs: List[Any], max_workers: int, fail: Any, name: str = "dflow-storage") -> None:
    """Run ``(key, callable)`` jobs on up to ``max_workers`` threads; on the first failure cancel
    what has not started and raise ``fail(key, exception)`` (a StorageError naming the key)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max(1, int(max_workers)), thread_name_prefix=name) as pool:
        futures = {pool.submit(fn): key for key, fn in jobs}
        for future in concurrent.futures.as_completed(futures):
            exc = future.exception()
            if exc is not None:
                for other in futures:
                    other.cancel()
                raise fail(futures[future], exc) from exc


@dataclasses.dataclass(frozen=True)
class SecretRef:
    """A credential kept in a Kubernetes secret: a manifest names the secret, never the value."""

    name: str
    key: str


@dataclasses.dataclass(frozen=True)
class ArtifactLocation:
    """Where the object(s) under a key live, as a cluster backend addresses them.

    It follows Argo's artifact locations: ``kind`` is the location's field name
    (``"s3"``, ``"oss"``, ``"azure"``, ``"gcs"``, ...), ``fields`` its settings, the key
    included under the name that kind uses (``key`` for s3/oss/gcs, ``blob`` for
    azure), and ``secrets`` maps a credential field (``accessKeySecret``, ...) to the
    Kubernetes secret holding it. Text in ``fields`` may hold workflow placeholders
    (``{{workflow.name}}``). A location whose only field is the key is *key-only*: the
    cluster's default artifact repository supplies the rest.
    """

    kind: str
    fields: Dict[str, Any]
    secrets: Dict[str, SecretRef] = dataclasses.field(default_factory=dict)

    @property
    def key_only(self) -> bool:
        return not self.secrets and set(self.fields) <= {"key", "blob"}

    def to_dict(self) -> Dict[str, Any]:
        """``{kind: {fields..., secret fields as {"name", "key"}}}``, the manifest form."""
        body: Dict[str, Any] = dict(self.fields)
        for field, ref in self.secrets.items():
            body[field] = {"name": ref.name, "key": ref.key}
        return {self.kind: body}


class StorageClient(abc.ABC):
    """The five operations every artifact store offers (user guide 3.1.20).

    ``upload`` and ``download`` move one file; a directory is moved by the caller
    one file at a time (see :func:`dflow.artifact.upload_artifact`), or by a client
    that overrides them to accept directories too.
    """

    @abc.abstractmethod
    def upload(self, key: str, path: str) -> None:
        """Store the local file (or directory tree) at ``path`` under ``key``."""

    @abc.abstractmethod
    def download(self, key: str, path: str) -> None:
        """Write the object at ``key`` to the local file ``path`` (parents are created)."""

    @abc.abstractmethod
    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        """Keys of the objects that start with ``prefix``.

        Non-recursive listing returns the objects directly below ``prefix`` and
        the sub-prefixes (ending in ``/``) one level down.
        """

    @abc.abstractmethod
    def copy(self, src: str, dst: str) -> None:
        """Copy every object under ``src`` to the same relative place under ``dst``, server side."""

    def artifact_location(self, key: str) -> ArtifactLocation:
        """Where the objects under ``key`` are for a cluster backend (Argo's artifact location).

        The manifest compiler of a cluster backend asks this for every stored artifact
        and, for stores that are not the cluster's default repository, for where step
        outputs go. ``key`` may hold workflow placeholders. Credentials are given as
        :class:`SecretRef` names from the client's configuration, never as values.

        The default, as in dflow for a custom ``s3_config["storage_client"]``: the objects
        are in the cluster's default artifact repository, whose type
        ``s3_config["repo_type"]`` names (``"s3"`` unless set), addressed by key only.
        """
        from .settings import s3_config

        return ArtifactLocation(str(s3_config.get("repo_type") or "s3"), {"key": key})

    def local_path(self, key: str) -> Optional[str]:
        """The path of the object (or directory) at ``key`` when it is a file on this machine, else None.

        The local engine copies such artifacts directly instead of downloading them.
        """
        return None

    def get_md5(self, key: str) -> str:
        """The MD5 hex digest of the content of the object at ``key``."""
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "obj")
            self.download(key, target)
            return _md5_file(target)


def local_path_of(client: Any, key: str) -> Optional[str]:
    """``client.local_path(key)``, also for a duck-typed client (``s3_config["storage_client"]``) without it."""
    fn = getattr(client, "local_path", None)
    return fn(key) if callable(fn) else None


def _md5_file(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise StorageError(f"storage key must be a non-empty string, got {key!r}")
    parts = key.replace("\\", "/").split("/")
    if key.startswith("/") or ".." in parts:
        raise StorageError(
            f"storage key {key!r} must be relative and must not contain '..' parts"
        )
    return key


class LocalStorageClient(StorageClient):
    """Artifacts as files below a root directory on this machine.

    Writes go to a temporary name first and are renamed into place, so a reader
    never sees a half-written object and a crash leaves no torn file behind.
    """

    def __init__(self, root: Optional[str] = None) -> None:
        self.root = Path(root or os.environ.get("DFLOW_STORAGE_ROOT") or _default_root()).resolve()

    def __repr__(self) -> str:
        return f"LocalStorageClient(root={str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def upload(self, key: str, path: str) -> None:
        src = Path(path)
        dst = self._path(key)
        if not src.exists():
            raise StorageError(f"cannot upload {str(src)!r} to key {key!r}: no such file or directory")
        if _same(src, dst):
            return
        if src.is_dir():
            for item in sorted(src.rglob("*")):
                if item.is_file():
                    rel = item.relative_to(src).as_posix()
                    _atomic_copy(item, dst / rel)
        else:
            _atomic_copy(src, dst)

    def download(self, key: str, path: str) -> None:
        src = self._path(key)
        dst = Path(path)
        if not src.exists():
            raise StorageError(f"no object with key {key!r} in {self!r}")
        if _same(src, dst):
            return
        if src.is_dir():
            for item in sorted(src.rglob("*")):
                if item.is_file():
                    _atomic_copy(item, dst / item.relative_to(src))
        else:
            _atomic_copy(src, dst)

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        base = self.root / prefix if prefix else self.root
        result: List[str] = []
        if prefix and not prefix.endswith("/") and base.is_file():
            return [prefix]
        # a prefix may end inside a name ("a/b" matches "a/bc"), as in S3
        parent = base if (not prefix or prefix.endswith("/")) else base.parent
        stem = "" if (not prefix or prefix.endswith("/")) else base.name
        if not parent.is_dir():
            return []
        for entry in sorted(parent.iterdir()):
            if not entry.name.startswith(stem) or entry.name.startswith(".tmp-dflow-"):
                continue
            rel = entry.relative_to(self.root).as_posix()
            if entry.is_dir():
                if recursive:
                    result.extend(
                        p.relative_to(self.root).as_posix()
                        for p in sorted(entry.rglob("*"))
                        if p.is_file() and not p.name.startswith(".tmp-dflow-")
                    )
                else:
                    result.append(rel + "/")
            else:
                result.append(rel)
        return result

    def copy(self, src: str, dst: str) -> None:
        s, d = self._path(src), self._path(dst)
        if not s.exists():
            raise StorageError(f"cannot copy {src!r}: no object with that key in {self!r}")
        if s.is_dir():
            for item in sorted(s.rglob("*")):
                if item.is_file():
                    _atomic_copy(item, d / item.relative_to(s))
        else:
            _atomic_copy(s, d)

    def local_path(self, key: str) -> Optional[str]:
        return str(self._path(key))

    def artifact_location(self, key: str) -> ArtifactLocation:
        raise StorageError(
            f"artifacts in {self!r} are files on this machine, which steps on a cluster cannot reach; "
            "configure the cluster's artifact store (s3_config) for a cluster run"
        )

    def get_md5(self, key: str) -> str:
        p = self._path(key)
        if not p.is_file():
            raise StorageError(f"no object with key {key!r} in {self!r}")
        return _md5_file(str(p))


def _default_root() -> str:
    return os.path.join(os.getcwd(), ".dflow-storage")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-dflow-", dir=str(dst.parent))
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        shutil.copymode(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
