"""A key that is one object (``upload_s3("fn.txt", key)``), downloaded as a tree: the folder holds the file.

dflow-galaxy uploads each function as one file and gives its key as an input artifact; a
step's input artifact and ``download_artifact`` are folders, so the object lands inside
the folder under the key's last name, on a local store and on a remote one alike.
"""

from typing import Dict, List

import pytest

from dflow.artifact import download_tree
from dflow.errors import StorageError
from dflow.storage import LocalStorageClient, StorageClient


class MemoryClient(StorageClient):
    """A store that is not on the local filesystem (``local_path_of`` gives None): objects in a dict."""

    def __init__(self) -> None:
        self.objects: Dict[str, bytes] = {}

    def upload(self, key: str, path: str) -> None:
        with open(path, "rb") as f:
            self.objects[key] = f.read()

    def download(self, key: str, path: str) -> None:
        import os

        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.objects[key])

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def copy(self, src: str, dst: str) -> None:
        self.objects[dst] = self.objects[src]


@pytest.mark.parametrize("make", [lambda tmp: LocalStorageClient(str(tmp / "store")), lambda tmp: MemoryClient()],
                         ids=["local", "remote"])
def test_a_single_object_key_downloads_into_the_folder_under_its_name(tmp_path, make):
    client = make(tmp_path)
    (tmp_path / "fn.txt").write_text("body")
    client.upload("s3/demo/build/fn", str(tmp_path / "fn.txt"))
    client.upload("s3/demo/tree/a/b.txt", str(tmp_path / "fn.txt"))
    assert download_tree(client, "s3/demo/build/fn", str(tmp_path / "one")) == "fn"
    assert (tmp_path / "one" / "fn").read_text() == "body"
    assert download_tree(client, "s3/demo/tree", str(tmp_path / "tree")) is None
    assert (tmp_path / "tree" / "a" / "b.txt").read_text() == "body"
    with pytest.raises(StorageError, match="key 's3/demo/none'"):
        download_tree(client, "s3/demo/none", str(tmp_path / "none"))
