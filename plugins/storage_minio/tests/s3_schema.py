"""Argo's JSON schema made strict, for checking the S3 client's artifact locations."""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Argo v4.1.2's JSON schema: the repository's copy once it is there, else the shared one
ARGO_SCHEMA_PATHS = (
    REPO / "plugins" / "argo_backend" / "src" / "dflow_argo" / "schema" / "argo-v4.1.2.json",
    REPO.parent / "shared" / "argo" / "schema.json",
    Path("/work/shared/argo/schema.json"),
)


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; in CI (``CI`` set) a missing service is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def argo_schema_path() -> Path:
    override = os.environ.get("DFLOW_ARGO_SCHEMA")
    for path in ([Path(override)] if override else []) + list(ARGO_SCHEMA_PATHS):
        if path.is_file():
            return path
    skip_or_fail(f"Argo's JSON schema not found (looked at {', '.join(map(str, ARGO_SCHEMA_PATHS))})")
    raise AssertionError("unreachable")


def _strict(node: Any) -> Any:
    """Every object definition that lists its properties refuses any other property."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(x) for x in node]
    return node


@functools.cache
def _strict_schema() -> Dict[str, Any]:
    with open(argo_schema_path()) as f:
        return _strict(copy.deepcopy(json.load(f)))


def schema_errors(document: Dict[str, Any], definition: str) -> List[str]:
    """Every violation of the strict Argo schema ``definition`` by ``document``, as text lines."""
    import jsonschema

    schema = _strict_schema()
    root = {"$schema": schema.get("$schema"), "definitions": schema["definitions"],
            "$ref": f"#/definitions/{definition}"}
    validator = jsonschema.validators.validator_for(root)(root)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
