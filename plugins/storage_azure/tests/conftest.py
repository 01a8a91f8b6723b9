"""A real Azure Blob service for the tests: Azurite started for the session, or a named one.

- ``DFLOW_TEST_AZURE_CONNECTION_STRING``: use that account (Azurite or Azure), start nothing.
- otherwise Azurite (``scripts/setup-azurite.sh`` installs it) starts on a free port
  with a made-up account and key, and stops at the end (SIGTERM, then SIGKILL).
- Azurite missing: the tests are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from azurite_server import Azurite, azurite_binary  # noqa: E402

from dflow.testing.services import skip_or_fail  # noqa: E402


@pytest.fixture(scope="session")
def azure_connection_string() -> Iterator[str]:
    given = os.environ.get("DFLOW_TEST_AZURE_CONNECTION_STRING")
    if given:
        yield given
        return
    binary = azurite_binary()
    if binary is None:
        skip_or_fail("Azurite not found: run `scripts/setup-azurite.sh` (npm install of azurite 3.35), set "
                     "DFLOW_AZURITE to its azurite-blob, or DFLOW_TEST_AZURE_CONNECTION_STRING to use another account")
    server = Azurite(binary)
    try:
        yield server.connection_string
    finally:
        server.stop()
