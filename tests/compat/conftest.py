"""Shared fixtures of the compatibility repros: every test runs on the local backend in its own directory.

The tests in this folder are minimal reproductions of places where code written for the
original dflow (its tests and examples, and dpgen2) fails on this project. Each is marked
``xfail(strict=True)`` with the cause in its reason (see ``docs/compat-report.md``): when a
fix lands the test passes, strict xfail turns that into a failure, and the marker is removed.
"""

import pytest

from dflow import config


@pytest.fixture()
def local_run(tmp_path, monkeypatch):
    """The local backend, with the workflow state and artifacts under a fresh directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    monkeypatch.setitem(config, "detach", False)
    return tmp_path

