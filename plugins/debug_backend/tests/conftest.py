"""Fixtures shared by the local backend's tests."""

from __future__ import annotations

import pytest

from dflow import config


@pytest.fixture
def local(tmp_path, monkeypatch):
    """Workflows run on the local backend, attached, with their state under ``tmp_path`` (also the cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    monkeypatch.setitem(config, "detach", False)
    return tmp_path
