"""Argo's JSON schema made strict, for checking the S3 client's artifact locations."""

from __future__ import annotations

import os

import pytest

from dflow.testing.argo_schema import schema_errors  # noqa: F401 - Argo's strict schema, shipped with core


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; in CI (``CI`` set) a missing service is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)

