"""Shared fixtures: every test works in its own directory, with dflow on the local backend."""

import pytest
from dflow import config


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory (OPs write their output files relative to it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local_backend(workdir, monkeypatch):
    """Workflows run on this machine (dflow-debug), their state kept under ``workdir``."""
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(workdir))
    monkeypatch.setitem(config, "detach", False)
    return workdir
