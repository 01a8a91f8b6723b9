"""A real S3 for the tests: a throw-away Ceph RGW, or a server named in the environment.

- ``DFLOW_TEST_S3_ENDPOINT``, ``DFLOW_TEST_S3_ACCESS_KEY``, ``DFLOW_TEST_S3_SECRET_KEY``
  (and optionally ``DFLOW_TEST_S3_SECURE=1``): use that server, start nothing.
- otherwise ``scripts/start-rgw.sh`` starts a single-node Ceph with RGW for the
  session and ``scripts/stop-rgw.sh`` removes it at the end.
- RGW binaries missing: the tests are skipped, or fail when ``CI`` is set, with a
  message saying to run ``scripts/setup-rgw.sh``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

from dflow.testing.services import skip_or_fail

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
RGW_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "ceph-authtool", "monmaptool")


def rgw_unavailable_reason() -> Optional[str]:
    """Why RGW cannot be started here, or ``None`` when it can."""
    missing = [b for b in RGW_BINARIES if shutil.which(b) is None]
    if missing:
        return (
            f"Ceph RGW binaries not found ({', '.join(missing)}); run `sudo scripts/setup-rgw.sh` "
            f"to install them, or set DFLOW_TEST_S3_ENDPOINT/_ACCESS_KEY/_SECRET_KEY to use an existing S3"
        )
    if not (SCRIPTS / "start-rgw.sh").is_file():
        return f"{SCRIPTS / 'start-rgw.sh'} not found"
    return None


@pytest.fixture(name="rgw_unavailable_reason", scope="session")
def _rgw_unavailable_reason_fixture() -> Any:
    """The function :func:`rgw_unavailable_reason`, for tests that must not start RGW."""
    return rgw_unavailable_reason


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Dict[str, str]]:
    """``{"endpoint", "access_key", "secret_key", "secure"}`` of a running S3."""
    endpoint = os.environ.get("DFLOW_TEST_S3_ENDPOINT")
    if endpoint:
        yield {
            "endpoint": endpoint,
            "access_key": os.environ.get("DFLOW_TEST_S3_ACCESS_KEY", ""),
            "secret_key": os.environ.get("DFLOW_TEST_S3_SECRET_KEY", ""),
            "secure": os.environ.get("DFLOW_TEST_S3_SECURE", ""),
        }
        return
    reason = rgw_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    workdir = tempfile.mkdtemp(prefix="dflow-rgw-test-")
    proc = subprocess.run(
        [str(SCRIPTS / "start-rgw.sh"), workdir],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RGW_MEMSTORE_BYTES": os.environ.get("RGW_MEMSTORE_BYTES", str(2 << 30))},
    )
    try:
        if proc.returncode != 0:
            pytest.fail(f"start-rgw.sh failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
        with open(os.path.join(workdir, "rgw.json")) as f:
            info = json.load(f)
        yield {
            "endpoint": info["endpoint"],
            "access_key": info["access_key"],
            "secret_key": info["secret_key"],
            "secure": "",
        }
    finally:
        subprocess.run([str(SCRIPTS / "stop-rgw.sh"), workdir], timeout=120, check=False)
