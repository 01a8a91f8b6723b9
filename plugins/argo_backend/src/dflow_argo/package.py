"""Code shipped into pods as artifacts: core's ``dflow`` package and the OPs' ``python_packages``.

Rendering is offline: a package's storage key is derived from its content (a digest of
its files' names, sizes and modification times), so the manifest names it without
uploading anything. :meth:`ArgoBackend.submit` uploads what is missing before it
creates the workflow.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

__all__ = ["Upload", "dflow_package", "directory_digest", "make_tarball", "package_key"]

_EXCLUDE_DIRS = {"__pycache__", ".git", ".mypy_cache", ".pytest_cache"}


@dataclass(frozen=True)
class Upload:
    """A local directory (or file) that must be at ``key`` in the artifact repository before submission."""

    key: str
    local_path: str
    kind: str  # "dflow-package", "python-package", "local-artifact", "merged-artifact" (local_path: its items)


def _files(root: str) -> List[Tuple[str, str]]:
    if os.path.isfile(root):
        return [(os.path.basename(root), root)]
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in _EXCLUDE_DIRS)
        for f in sorted(files):
            if f.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(d, f)
            out.append((os.path.relpath(full, root), full))
    return out


_digests: Dict[Tuple[str, float], str] = {}


def directory_digest(root: str) -> str:
    """A short digest of ``root``'s file names, sizes and modification times (cached per process)."""
    root = os.path.abspath(root)
    try:
        stamp = os.stat(root).st_mtime
    except OSError:
        stamp = -1.0
    cached = _digests.get((root, stamp))
    if cached is not None:
        return cached
    h = hashlib.sha256()
    for rel, full in _files(root):
        st = os.stat(full)
        h.update(f"{rel}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
    digest = h.hexdigest()[:16]
    _digests[(root, stamp)] = digest
    return digest


def dflow_package() -> str:
    """The directory of core's ``dflow`` package on this machine."""
    import dflow

    return os.path.dirname(os.path.abspath(dflow.__file__))


def package_key(local_path: str, prefix: str = "") -> str:
    """The storage key of a package tarball: content-addressed, so equal code is stored once."""
    name = os.path.basename(os.path.abspath(local_path).rstrip("/")) or "package"
    return f"{prefix}dflow/packages/{name}-{directory_digest(local_path)}.tgz"


def make_tarball(local_path: str, arcname: Optional[str] = None) -> bytes:
    """A gzipped tarball of ``local_path`` with one top-level entry ``arcname`` (Argo unpacks it in place)."""
    local_path = os.path.abspath(local_path)
    arcname = arcname or os.path.basename(local_path.rstrip("/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        if os.path.isfile(local_path):
            tar.add(local_path, arcname=arcname)
        else:
            for rel, full in _files(local_path):
                tar.add(full, arcname=f"{arcname}/{rel}")
    return buf.getvalue()
