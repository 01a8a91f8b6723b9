"""The Argo v4.1.2 Workflow schema, made strict: ``additionalProperties: false`` on every
object definition that lists its properties, so a misspelled field fails validation."""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any, Dict, List

SCHEMA_PATH = os.environ.get(
    "DFLOW_ARGO_SCHEMA",
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "argo", "schema.json"),
)
WORKFLOW_DEF = "io.argoproj.workflow.v1alpha1.Workflow"


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(x) for x in node]
    return node


@functools.cache
def strict_validator(definition: str = WORKFLOW_DEF) -> Any:
    import jsonschema

    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    strict = _strict(copy.deepcopy(schema))
    root = {
        "$schema": strict.get("$schema"),
        "definitions": strict["definitions"],
        "$ref": f"#/definitions/{definition}",
    }
    cls = jsonschema.validators.validator_for(root)
    cls.check_schema(root)
    return cls(root)


def schema_errors(manifest: Dict[str, Any], definition: str = WORKFLOW_DEF) -> List[str]:
    """Every violation of the strict schema, as ``path: message`` lines (empty when valid)."""
    v = strict_validator(definition)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"[:400]
        for e in sorted(v.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    ]
