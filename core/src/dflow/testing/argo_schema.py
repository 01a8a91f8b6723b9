"""Argo Workflows' JSON schema (v4.1.2), made strict, for tests of anything that renders Argo objects.

``additionalProperties: false`` is added to every object definition that lists its
properties, so a misspelt field fails validation instead of being ignored. The schema
file ships with core (``dflow/testing/argo/``; Apache-2.0, from the Argo Workflows
project, see the README there), so a test reads nothing outside the installed packages.
Needs ``jsonschema`` (``pip install "dflow-core[testing]"``).
"""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any, Dict, List

__all__ = ["SCHEMA_PATH", "WORKFLOW_DEF", "strict_validator", "schema_errors"]

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "argo", "argo-workflows-v4.1.2.schema.json")
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
def _definitions() -> Dict[str, Any]:
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    return {"$schema": schema.get("$schema"), "definitions": _strict(copy.deepcopy(schema["definitions"]))}


@functools.cache
def strict_validator(definition: str = WORKFLOW_DEF) -> Any:
    """A jsonschema validator of the strict ``definition`` (an Argo object, by its schema name)."""
    import jsonschema

    base = _definitions()
    if definition not in base["definitions"]:
        raise KeyError(f"the Argo schema has no definition {definition!r}")
    root = {"$schema": base["$schema"], "definitions": base["definitions"], "$ref": f"#/definitions/{definition}"}
    cls = jsonschema.validators.validator_for(root)
    cls.check_schema(root)
    return cls(root)


def schema_errors(obj: Dict[str, Any], definition: str = WORKFLOW_DEF) -> List[str]:
    """Every violation of the strict schema, as ``path: message`` lines (empty when valid)."""
    v = strict_validator(definition)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"[:400]
        for e in sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
