"""Fixtures: the real Slurm cluster and SSH server of ``dflow-dispatcher``'s tests (``slurm_cluster.py``,
imported from there by path), and a clean dflow configuration per test."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Iterator

import pytest

DISPATCHER_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "executor_dispatcher", "tests")
sys.path.insert(0, os.path.abspath(DISPATCHER_TESTS))

from slurm_cluster import cluster_unavailable_reason, remote_dir, running_cluster  # noqa: E402

from dflow.testing.services import skip_or_fail  # noqa: E402


@pytest.fixture(scope="session")
def slurm() -> Iterator[Dict[str, Any]]:
    reason = cluster_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    with running_cluster() as info:
        yield info


@pytest.fixture
def remote(slurm: Dict[str, Any]) -> Iterator[str]:
    with remote_dir(slurm) as path:
        yield path


@pytest.fixture
def local_run(tmp_path: Any, monkeypatch: Any) -> Iterator[Any]:
    from dflow import config, s3_config

    saved_c, saved_s = dict(config), dict(s3_config)
    monkeypatch.chdir(tmp_path)
    config.update(mode="debug", debug_workdir=str(tmp_path / "runs"), detach=False)
    yield tmp_path
    config.clear()
    config.update(saved_c)
    s3_config.clear()
    s3_config.update(saved_s)
