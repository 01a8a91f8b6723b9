"""Conformance suite for :class:`dflow.storage.StorageClient` implementations.

A storage plugin proves it behaves like every other one by subclassing
:class:`StorageClientConformance` in its tests and providing a ``client``
fixture::

    from dflow.testing.storage import StorageClientConformance

    class TestMyStorage(StorageClientConformance):
        __test__ = True
        list_page_keys = 1005          # more than one page of your server's listing
        multipart_size = 12 * 1024**2  # bigger than the client's multipart threshold

        @pytest.fixture
        def client(self, tmp_path):
            return MyStorageClient(...)

Every test works below its own key prefix (the ``ns`` fixture), so a suite can
share one bucket between tests and between runs.

:func:`check_local_run_in_store` runs a small workflow on the local backend with the
plugin's store configured and checks that the run's artifacts live there.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from ..errors import StorageError
from ..storage import StorageClient

__all__ = ["StorageClientConformance", "check_local_run_in_store"]

MiB = 1024 * 1024


def check_local_run_in_store(client: StorageClient, storage: str, work: Path, stored: Callable[[str], bool],
                             secrets: List[str]) -> None:
    """Run two chained steps on the local backend with ``client``'s store configured, and check where
    their artifacts went.

    The caller has configured the store (``s3_config``), the local backend (``config["mode"] =
    "debug"``, ``debug_workdir = work``) and made ``work`` the current directory. Checked: the
    upload is one archive object in the store; the steps pass files through it (the outputs
    record ``storage``); every object the run lists is where the store itself has it
    (``stored(key)``, e.g. below the configured prefix); the output downloads back; the run's
    records are under ``work``; and no file there holds any of ``secrets``.
    """
    from .. import Step, Workflow, download_artifact, upload_artifact
    from ..python import PythonOPTemplate
    from . import ops
    from .services import files_containing

    Path("seed.txt").write_text("seed")
    art = upload_artifact("seed.txt")
    assert client.list(art.key + "/", recursive=True) == [f"{art.key}/dflow-archive.tgz"]
    wf = Workflow(f"on-{storage}")
    first = Step("first", PythonOPTemplate(ops.Concat), parameters={"suffix": "-1"}, artifacts={"inp": art})
    second = Step("second", PythonOPTemplate(ops.Concat), parameters={"suffix": "-2"},
                  artifacts={"inp": first.outputs.artifacts["out"]})
    wf.add(first)
    wf.add(second)
    wf.submit()
    assert wf.wait() == "Succeeded", wf.query().message
    step = wf.query_step(name="second")[0]
    assert step.outputs.parameters["text"].value == "seed-1-2"
    out = step.outputs.artifacts["out"]
    assert out.storage == storage
    keys = client.list(f"{wf.id}/", recursive=True)
    assert keys, f"no object of the run is in the {storage} store"
    missing = [k for k in keys if not stored(k)]
    assert missing == [], f"the store lists {missing} but does not hold them where expected"
    paths = download_artifact(out, path=work / "dl")
    assert [Path(p).read_text() for p in paths] == ["seed-1-2"]
    assert len([p for p in (work / wf.id).rglob("*") if p.is_file()]) > 10, "the workflow directory is not where expected"
    leaks = files_containing(work, secrets)
    assert leaks == [], f"a credential was written to {leaks}"


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _tree_contents(root: Path) -> Dict[str, bytes]:
    """``{relative posix path: content}`` of every file below ``root``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class StorageClientConformance:
    """What every storage client must do; subclass it and provide ``client``.

    Class attributes tune the suite to the store:

    - ``list_page_keys``: how many objects the pagination test creates; for a
      server store make it larger than one page of listing (1000 for S3).
    - ``multipart_size``: size in bytes of the "big" object of the MD5 and copy
      tests; make it larger than the client's multipart threshold so that the
      multipart code paths run.
    """

    __test__ = False

    list_page_keys: int = 1005
    multipart_size: int = 12 * MiB

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def client(self) -> StorageClient:
        """The client under test; a subclass must override this fixture."""
        raise NotImplementedError("a StorageClientConformance subclass must provide a `client` fixture")

    @pytest.fixture
    def ns(self) -> str:
        """A key prefix of this test alone (ends in ``/``)."""
        return f"conformance-{uuid.uuid4().hex[:12]}/"

    @pytest.fixture
    def tree(self, tmp_path: Path) -> Path:
        """A small directory tree with nested, binary, empty and oddly named files."""
        root = tmp_path / "tree"
        _write(root / "a.txt", b"alpha\n")
        _write(root / "sub" / "b.bin", bytes(range(256)) * 4)
        _write(root / "sub" / "deeper" / "c.txt", b"gamma\n")
        _write(root / "sub" / "empty", b"")
        _write(root / "with space" / "d\u00fc\u6587.txt", "unicode \u2713\n".encode())
        return root

    # ------------------------------------------------------------------ single files

    def test_upload_download_file(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        src = _write(tmp_path / "in.txt", b"hello storage\n")
        client.upload(ns + "file.txt", str(src))
        dst = tmp_path / "out" / "file.txt"
        client.download(ns + "file.txt", str(dst))
        assert dst.read_bytes() == b"hello storage\n"

    def test_download_creates_parent_directories(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        client.upload(ns + "x", str(_write(tmp_path / "x", b"x")))
        dst = tmp_path / "does" / "not" / "exist" / "x"
        client.download(ns + "x", str(dst))
        assert dst.read_bytes() == b"x"

    def test_binary_content(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        data = bytes(range(256)) * 64 + os.urandom(100_003) + b"\r\n\x00\r"
        client.upload(ns + "blob.bin", str(_write(tmp_path / "blob.bin", data)))
        client.download(ns + "blob.bin", str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == data

    def test_empty_file(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        client.upload(ns + "empty", str(_write(tmp_path / "empty", b"")))
        dst = tmp_path / "empty.out"
        client.download(ns + "empty", str(dst))
        assert dst.is_file() and dst.read_bytes() == b""
        assert client.get_md5(ns + "empty") == hashlib.md5(b"").hexdigest()

    def test_overwrite(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        client.upload(ns + "v", str(_write(tmp_path / "v1", b"first version, longer than the second")))
        client.upload(ns + "v", str(_write(tmp_path / "v2", b"second")))
        client.download(ns + "v", str(tmp_path / "v.out"))
        assert (tmp_path / "v.out").read_bytes() == b"second"
        assert client.get_md5(ns + "v") == hashlib.md5(b"second").hexdigest()
        assert client.list(ns, recursive=True) == [ns + "v"]

    def test_download_overwrites_local_file(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        client.upload(ns + "k", str(_write(tmp_path / "src", b"new")))
        dst = _write(tmp_path / "dst", b"old content that is longer")
        client.download(ns + "k", str(dst))
        assert dst.read_bytes() == b"new"

    def test_keys_with_spaces_and_unicode(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        key = ns + "dir with space/\u00fcn\u00efc\u00f8d\u00e9 \u6587\u4ef6 +&=.txt"
        data = "content \u00e9\u6587\n".encode()
        client.upload(key, str(_write(tmp_path / "u.txt", data)))
        assert client.list(ns, recursive=True) == [key]
        assert client.list(ns) == [ns + "dir with space/"]
        client.download(key, str(tmp_path / "u.out"))
        assert (tmp_path / "u.out").read_bytes() == data
        assert client.get_md5(key) == hashlib.md5(data).hexdigest()

    # ------------------------------------------------------------------ directories

    def test_upload_download_directory(self, client: StorageClient, ns: str, tree: Path, tmp_path: Path) -> None:
        client.upload(ns + "dir", str(tree))
        expected = _tree_contents(tree)
        assert sorted(client.list(ns + "dir/", recursive=True)) == sorted(ns + "dir/" + rel for rel in expected)
        out = tmp_path / "out"
        client.download(ns + "dir", str(out))
        assert _tree_contents(out) == expected

    def test_directory_download_takes_only_that_directory(
        self, client: StorageClient, ns: str, tree: Path, tmp_path: Path
    ) -> None:
        client.upload(ns + "d", str(tree))
        # a sibling whose name starts like the directory must not leak in
        client.upload(ns + "d-other/x", str(_write(tmp_path / "x", b"x")))
        client.upload(ns + "dx", str(_write(tmp_path / "y", b"y")))
        out = tmp_path / "out"
        client.download(ns + "d", str(out))
        assert _tree_contents(out) == _tree_contents(tree)

    def test_directory_key_with_trailing_slash(
        self, client: StorageClient, ns: str, tree: Path, tmp_path: Path
    ) -> None:
        client.upload(ns + "slash/", str(tree))
        out = tmp_path / "out"
        client.download(ns + "slash/", str(out))
        assert _tree_contents(out) == _tree_contents(tree)

    # ------------------------------------------------------------------ listing

    def test_list_recursive_and_non_recursive(self, client: StorageClient, ns: str, tree: Path) -> None:
        client.upload(ns + "d", str(tree))
        everything = sorted(ns + "d/" + rel for rel in _tree_contents(tree))
        assert sorted(client.list(ns + "d/", recursive=True)) == everything
        assert sorted(client.list(ns + "d/")) == [ns + "d/a.txt", ns + "d/sub/", ns + "d/with space/"]
        assert sorted(client.list(ns + "d/sub/")) == [ns + "d/sub/b.bin", ns + "d/sub/deeper/", ns + "d/sub/empty"]
        # a prefix may end inside a name
        assert sorted(client.list(ns + "d/su")) == [ns + "d/sub/"]
        assert sorted(client.list(ns + "d/su", recursive=True)) == [
            k for k in everything if k.startswith(ns + "d/sub/")
        ]
        assert sorted(client.list(ns)) == [ns + "d/"]
        # the key of one object lists as itself
        assert client.list(ns + "d/a.txt") == [ns + "d/a.txt"]

    def test_list_missing_prefix_is_empty(self, client: StorageClient, ns: str) -> None:
        assert client.list(ns + "nothing/here/") == []
        assert client.list(ns + "nothing", recursive=True) == []

    def test_list_pagination(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        n = self.list_page_keys
        src = tmp_path / "many"
        names: List[str] = [f"f{i:05d}" for i in range(n)]
        for name in names:
            _write(src / name, name.encode())
        _write(src / "zz-sub" / "inner", b"inner")
        client.upload(ns + "many", str(src))
        flat = client.list(ns + "many/")
        assert len(flat) == n + 1
        assert sorted(flat) == sorted([ns + "many/" + name for name in names] + [ns + "many/zz-sub/"])
        deep = client.list(ns + "many/", recursive=True)
        assert len(deep) == n + 1
        assert sorted(deep) == sorted([ns + "many/" + name for name in names] + [ns + "many/zz-sub/inner"])

    # ------------------------------------------------------------------ copy

    def test_copy_object(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        client.upload(ns + "src.txt", str(_write(tmp_path / "s", b"copy me")))
        client.copy(ns + "src.txt", ns + "copies/dst.txt")
        client.download(ns + "copies/dst.txt", str(tmp_path / "d"))
        assert (tmp_path / "d").read_bytes() == b"copy me"
        assert sorted(client.list(ns, recursive=True)) == [ns + "copies/dst.txt", ns + "src.txt"]

    def test_copy_prefix(self, client: StorageClient, ns: str, tree: Path, tmp_path: Path) -> None:
        client.upload(ns + "src", str(tree))
        client.copy(ns + "src", ns + "dst")
        rels = sorted(_tree_contents(tree))
        assert sorted(client.list(ns + "dst/", recursive=True)) == [ns + "dst/" + r for r in rels]
        assert sorted(client.list(ns + "src/", recursive=True)) == [ns + "src/" + r for r in rels]
        client.download(ns + "dst", str(tmp_path / "out"))
        assert _tree_contents(tmp_path / "out") == _tree_contents(tree)

    def test_copy_big_object(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        data = os.urandom(self.multipart_size)
        client.upload(ns + "big", str(_write(tmp_path / "big", data)))
        client.copy(ns + "big", ns + "big-copy")
        assert client.get_md5(ns + "big-copy") == hashlib.md5(data).hexdigest()
        client.download(ns + "big-copy", str(tmp_path / "big.out"))
        assert (tmp_path / "big.out").read_bytes() == data

    # ------------------------------------------------------------------ md5

    def test_get_md5_small(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        data = b"md5 of a small object\n"
        client.upload(ns + "small", str(_write(tmp_path / "small", data)))
        assert client.get_md5(ns + "small") == hashlib.md5(data).hexdigest()

    def test_get_md5_multipart(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        data = os.urandom(self.multipart_size)
        client.upload(ns + "big", str(_write(tmp_path / "big", data)))
        assert client.get_md5(ns + "big") == hashlib.md5(data).hexdigest()
        client.download(ns + "big", str(tmp_path / "big.out"))
        assert hashlib.md5((tmp_path / "big.out").read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()

    # ------------------------------------------------------------------ errors

    def test_download_missing_key(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        key = ns + "missing/key.txt"
        with pytest.raises(StorageError) as info:
            client.download(key, str(tmp_path / "nowhere"))
        assert key in str(info.value)
        assert not (tmp_path / "nowhere").exists()

    def test_get_md5_missing_key(self, client: StorageClient, ns: str) -> None:
        with pytest.raises(StorageError) as info:
            client.get_md5(ns + "missing")
        assert ns + "missing" in str(info.value)

    def test_copy_missing_key(self, client: StorageClient, ns: str) -> None:
        with pytest.raises(StorageError) as info:
            client.copy(ns + "missing", ns + "other")
        assert ns + "missing" in str(info.value)

    def test_upload_missing_local_path(self, client: StorageClient, ns: str, tmp_path: Path) -> None:
        with pytest.raises(StorageError):
            client.upload(ns + "k", str(tmp_path / "no-such-file"))
        assert client.list(ns, recursive=True) == []

    def test_key_escaping_the_store_is_refused(self, client: StorageClient, tmp_path: Path) -> None:
        src = _write(tmp_path / "f", b"f")
        for bad in ("../outside", "/absolute", "a/../../b"):
            with pytest.raises(StorageError):
                client.upload(bad, str(src))
