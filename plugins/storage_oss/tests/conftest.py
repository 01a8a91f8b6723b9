"""The OSS server of the tests: the protocol stand-in of ``oss_standin.py`` (see its docstring).

No OSS emulator can be installed on these machines, so the suite runs against a
stand-in that checks oss2's request signatures. ``test_oss_real.py`` runs the same
conformance suite against real OSS when ``OSS_ENDPOINT``, ``OSS_BUCKET_NAME``,
``OSS_ACCESS_KEY_ID`` and ``OSS_ACCESS_KEY_SECRET`` are set.
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import Dict, Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from oss_standin import OSSStandIn  # noqa: E402

MiB = 1024 * 1024
#: the stand-in refuses CopyObject above this, as OSS does above 1 GiB: a client must copy
#: bigger objects part by part
COPY_LIMIT = 5 * MiB


@pytest.fixture(scope="session")
def oss_server() -> Iterator[Dict[str, str]]:
    """``{"endpoint", "access_key_id", "access_key_secret", "server"}`` of the stand-in,
    with credentials made up for this session."""
    key_id = "LTAI" + secrets.token_hex(8).upper()
    key_secret = secrets.token_urlsafe(22)
    server = OSSStandIn(key_id, key_secret, copy_object_limit=COPY_LIMIT).start()
    try:
        yield {"endpoint": server.endpoint, "access_key_id": key_id, "access_key_secret": key_secret,
               "server": server}
    finally:
        server.stop()
