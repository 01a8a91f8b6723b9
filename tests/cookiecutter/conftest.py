"""Fixtures of the ``cookiecutter-op`` template tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cookiecutter_op_support import LOCAL_DISTRIBUTIONS, REPO, normalized, read_toml, run


@pytest.fixture(scope="session")
def dflow_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of dflow-core, dflow-debug and dflow-argo, built from this checkout once per session."""
    out = tmp_path_factory.mktemp("dflow-wheels")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--wheel-dir", str(out), *map(str, LOCAL_DISTRIBUTIONS.values())], cwd=out)
    wheels = sorted(out.glob("*.whl"))
    assert sorted(normalized(w.name.split("-")[0]) for w in wheels) == sorted(LOCAL_DISTRIBUTIONS), wheels
    return out


@pytest.fixture(scope="session")
def core_pyproject() -> dict:
    """``core/pyproject.toml`` of this checkout (dflow-core's version and ``requires-python``)."""
    return read_toml(REPO / "core" / "pyproject.toml")
