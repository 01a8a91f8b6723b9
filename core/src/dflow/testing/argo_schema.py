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
import re
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
    """Every violation of the strict schema, as ``path: message`` lines (empty when valid); for a
    Workflow also of the names Argo's controller checks and the schema does not (:func:`name_errors`)."""
    v = strict_validator(definition)
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"[:400]
        for e in sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
    return errors + (name_errors(obj) if definition == WORKFLOW_DEF else [])


_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")  # templates, steps, DAG tasks (at most 128 characters)
_IO_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")  # parameters and artifacts


def name_errors(wf: Dict[str, Any]) -> List[str]:
    """Names Argo refuses when it validates a Workflow (its ``workflowFieldNameFmt`` and parameter/artifact
    name rules), which the JSON schema does not say."""
    out: List[str] = []

    def field(path: str, name: Any) -> None:
        if not isinstance(name, str) or not _FIELD_NAME.match(name) or len(name) > 128:
            out.append(f"{path}: {name!r} is not a valid Argo name (alpha-numerics and '-', at most 128)")

    def io(path: str, block: Any) -> None:
        for kind in ("parameters", "artifacts"):
            for i, item in enumerate((block or {}).get(kind) or []):
                if not _IO_NAME.match(str(item.get("name", ""))):
                    out.append(f"{path}/{kind}/{i}: {item.get('name')!r} is not a valid parameter/artifact name")

    for ti, t in enumerate(((wf.get("spec") or {}).get("templates")) or []):
        where = f"spec/templates/{ti}"
        field(where + "/name", t.get("name"))
        io(where + "/inputs", t.get("inputs"))
        io(where + "/outputs", t.get("outputs"))
        steps = [s for group in t.get("steps") or [] for s in group] + list((t.get("dag") or {}).get("tasks") or [])
        for si, s in enumerate(steps):
            field(f"{where}/steps/{si}/name", s.get("name"))
            io(f"{where}/steps/{si}/arguments", s.get("arguments"))
    return out
