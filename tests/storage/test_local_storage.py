"""The storage conformance suite, run against the local filesystem client of core."""

from __future__ import annotations

from pathlib import Path

import pytest

from dflow.storage import LocalStorageClient
from dflow.testing.storage import StorageClientConformance


class TestLocalStorageClient(StorageClientConformance):
    __test__ = True

    # no server pages here: a few keys prove the listing, a few MiB the md5
    list_page_keys = 50
    multipart_size = 3 * 1024 * 1024

    @pytest.fixture
    def client(self, tmp_path: Path) -> LocalStorageClient:
        return LocalStorageClient(root=str(tmp_path / "store"))
