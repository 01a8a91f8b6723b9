"""Artifact downloads: through ``dflow.download_artifact``, as one file or a ``.tar.gz``.

The artifact is fetched into a fresh temporary directory (a worker thread does
the transfer), sent, and the directory is removed once the answer went out, or
at once when the transfer fails.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from typing import Optional

from dflow import ArgoStep, download_artifact
from dflow.backend import StepRecord

__all__ = ["Fetched", "fetch_artifact", "safe_filename"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: the catalog dflow keeps inside an artifact is bookkeeping, not content
_CATALOG = ".dflow"


@dataclass
class Fetched:
    """A downloaded artifact ready to send: the file, its name and type, the folder to remove after."""
    path: str
    filename: str
    media_type: str
    tmpdir: str

    def cleanup(self) -> None:
        """Remove the temporary folder (after the answer went out)."""
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def safe_filename(name: str) -> str:
    """A name for ``Content-Disposition``: letters, digits, ``._-`` only."""
    return _UNSAFE.sub("_", name).strip("._") or "artifact"


def fetch_artifact(rec: StepRecord, direction: str, name: str) -> Optional[Fetched]:
    """Download artifact ``name`` of ``rec`` (``direction``: ``inputs`` or ``outputs``); ``None`` if absent.

    A single file is sent as it is; anything else as a gzipped tar of its files.
    """
    step = ArgoStep(rec)
    io = step.inputs if direction == "inputs" else step.outputs
    art = io.artifacts.get(name)
    if art is None:
        return None
    tmpdir = tempfile.mkdtemp(prefix="dflow-ui-")
    try:
        target = os.path.join(tmpdir, "content")
        download_artifact(art, path=target)
        entries = [e for e in os.listdir(target) if e != _CATALOG]
        if len(entries) == 1 and os.path.isfile(os.path.join(target, entries[0])):
            return Fetched(os.path.join(target, entries[0]), safe_filename(entries[0]), "application/octet-stream",
                           tmpdir)
        packed = os.path.join(tmpdir, "artifact.tar.gz")
        with tarfile.open(packed, "w:gz") as tf:
            for entry in sorted(entries):
                tf.add(os.path.join(target, entry), arcname=entry)
        return Fetched(packed, f"{safe_filename(rec.display_name)}-{safe_filename(name)}.tar.gz", "application/gzip",
                       tmpdir)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
