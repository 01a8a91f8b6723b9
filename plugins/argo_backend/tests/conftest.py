"""Shared fixtures of the Argo backend tests: an isolated config and a local artifact store."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """Every test gets its own copy of config/s3_config and an artifact store under tmp_path.

    The store stands for the cluster's default artifact repository (``SandboxRepository``:
    a local directory whose artifacts the manifest names by key-only ``s3`` locations, and
    which the sandbox reads and writes as that repository).
    """
    from sandbox_repo import SandboxRepository

    from dflow.settings import config, s3_config

    saved_c, saved_s = dict(config), dict(s3_config)
    store = tmp_path / "store"
    store.mkdir()
    s3_config["storage_client"] = SandboxRepository(root=str(store))
    config["debug_workdir"] = str(tmp_path / "debug")
    monkeypatch.chdir(tmp_path)
    yield
    config.clear()
    config.update(saved_c)
    s3_config.clear()
    s3_config.update(saved_s)
