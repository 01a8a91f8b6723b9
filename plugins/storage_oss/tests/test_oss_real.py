"""The conformance suite against real Aliyun OSS, when its address is given.

Set ``OSS_ENDPOINT``, ``OSS_BUCKET_NAME``, ``OSS_ACCESS_KEY_ID`` and
``OSS_ACCESS_KEY_SECRET`` (an existing bucket you may write to). Every run works
below its own prefix ``dflow-test-<random>/`` and deletes it at the end. Without
those variables the tests are skipped: real OSS cannot be reached from the
machines this project is tested on, which is why the other OSS tests run against
the protocol stand-in of ``oss_standin.py``.
"""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest

from dflow.testing.storage import StorageClientConformance
from dflow_oss import OSSClient

MiB = 1024 * 1024
VARIABLES = ("OSS_ENDPOINT", "OSS_BUCKET_NAME", "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET")
MISSING = [v for v in VARIABLES if not os.environ.get(v)]

if MISSING:
    pytest.skip(f"real OSS not configured: set {', '.join(MISSING)} to run the suite against it",
                allow_module_level=True)


@pytest.fixture(scope="module")
def run_prefix() -> Iterator[str]:
    prefix = f"dflow-test-{uuid.uuid4().hex[:10]}/"
    yield prefix
    _cleanup(prefix)


def _cleanup(prefix: str) -> None:
    client = OSSClient()
    keys = client.list(prefix, recursive=True)
    for i in range(0, len(keys), 1000):
        client.oss2_bucket.batch_delete_objects(keys[i:i + 1000])


class TestRealOSS(StorageClientConformance):
    __test__ = True

    list_page_keys = 120
    multipart_size = 12 * MiB

    @pytest.fixture
    def client(self, run_prefix: str) -> OSSClient:
        # parts of 2 MiB above 5 MiB and listing pages of 50: every paged and multipart path runs
        return OSSClient(prefix=run_prefix, multipart_threshold=5 * MiB, part_size=2 * MiB,
                         copy_threshold=5 * MiB, list_page_size=50)
