"""Archives of artifacts are untrusted: no member may land, or point, outside the artifact.

Tested with crafted tarballs of each kind, through core's download path and through the
code that runs inside a container (``dflow.container``), which unpacks an uploaded
artifact's tarball in the pod.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dflow.contract import ARCHIVE_OBJECT, UnsafeArchiveError, safe_extract


def _tar(path: Path, members) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, hard: bool = False) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def _device(name: str) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info, None


CRAFTED = {
    "symlink-then-file-below-it": lambda outside: [_link("lnk", str(outside)), _file("lnk/planted")],
    "symlink-pointing-outside": lambda outside: [_link("escape", str(outside / "target"))],
    "relative-symlink-climbing-out": lambda outside: [_link("up", "../../../../../../../../" + str(outside).lstrip("/"))],
    "hard-link-to-a-host-file": lambda outside: [_link("passwd", "/etc/passwd", hard=True)],
    "hard-link-to-a-later-member": lambda outside: [_link("h", "later", hard=True), _file("later")],
    "absolute-name": lambda outside: [_file(str(outside / "abs"))],
    "dot-dot-name": lambda outside: [_file("../../../../../../" + str(outside).lstrip("/") + "/dotdot")],
    "device-file": lambda outside: [_device("null")],
}


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_crafted_archive_is_refused_and_nothing_is_written(tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = _tar(tmp_path / "a.tgz", [_file("ok.txt")] + CRAFTED[kind](outside))
    target = tmp_path / "target"
    target.mkdir()
    with tarfile.open(archive) as tf, pytest.raises(UnsafeArchiveError):
        safe_extract(tf, str(target))
    assert list(outside.iterdir()) == []
    assert list(target.iterdir()) == []  # refused before anything was written


def test_links_inside_the_artifact_are_kept(tmp_path):
    archive = _tar(tmp_path / "a.tgz", [_file("d/real.txt", b"data"), _link("d/alias.txt", "real.txt"),
                                        _link("hard.txt", "d/real.txt", hard=True)])
    target = tmp_path / "t"
    with tarfile.open(archive) as tf:
        safe_extract(tf, str(target))
    assert (target / "d" / "alias.txt").read_text() == "data"
    assert (target / "hard.txt").read_text() == "data"


def test_download_of_an_artifact_with_a_crafted_archive_fails_naming_it(tmp_path):
    from dflow import S3Artifact, download_artifact
    from dflow.errors import StorageError
    from dflow.storage import StorageClient

    outside = tmp_path / "outside"
    outside.mkdir()
    store = tmp_path / "store" / "upload" / "evil"
    store.mkdir(parents=True)
    _tar(store / ARCHIVE_OBJECT, CRAFTED["symlink-then-file-below-it"](outside))

    class Remote(StorageClient):
        """A store that is not on this disk (so the archive object is unpacked)."""

        def __init__(self, root: Path) -> None:
            self.root = root

        def upload(self, key, path):
            raise AssertionError("not used")

        def download(self, key, path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).write_bytes((self.root / key).read_bytes())

        def list(self, prefix, recursive=False):
            return [str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()
                    and str(p.relative_to(self.root)).startswith(prefix)]

        def copy(self, src, dst):
            raise AssertionError("not used")

    with pytest.raises(StorageError, match="upload/evil.*refusing"):
        download_artifact(S3Artifact(key="upload/evil"), path=str(tmp_path / "dl"),
                          storage_client=Remote(tmp_path / "store"))
    assert list(outside.iterdir()) == []


def test_the_container_entry_refuses_a_crafted_upload(tmp_path, monkeypatch):
    """What runs in a pod: an input artifact holding an upload's tarball is unpacked safely."""
    from dflow.container import container_task

    outside = tmp_path / "outside"
    outside.mkdir()
    art = tmp_path / "tmp" / "inputs" / "artifacts" / "data"
    art.mkdir(parents=True)
    _tar(art / ARCHIVE_OBJECT, CRAFTED["symlink-then-file-below-it"](outside))
    payload = {"op": {}, "slices": None, "parameters": [], "artifacts": ["data"], "python_paths": []}
    with pytest.raises(UnsafeArchiveError):
        container_task(payload, root=str(tmp_path))
    assert list(outside.iterdir()) == []
