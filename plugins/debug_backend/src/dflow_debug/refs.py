"""What the steps of one Steps/DAG invocation can refer to, and how references resolve.

A reference is Argo template text (``{{inputs.parameters.x}}``,
``{{steps.a.outputs.artifacts.y}}``, ``{{item.name}}``, ``{{workflow.name}}``) or an
expression (``{{=...}}``), evaluated with core's expression evaluator, so a reference
means the same on the local backend as on Argo.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Optional, Protocol, Tuple

from dflow import expressions as X
from dflow.backend import ParameterValue
from dflow.contract import encode_value
from dflow.spec import StoredArtifact, WorkflowSpec

__all__ = ["PV", "StepFailed", "Outcome", "Scope", "argo_text", "records", "item_text", "short_hash"]

PV = Tuple[Optional[str], Optional[str]]  # parameter value: (text, type name)


class RunInfo(Protocol):
    """What a scope reads of the run (the engine provides it)."""

    workflow_id: str
    spec: WorkflowSpec

    def global_value(self, name: str) -> Optional[str]:
        """``{{workflow.NAME}}`` of the run (its status, failures, duration), None if it has none such."""


class StepFailed(Exception):
    """A step could not run (bad reference, missing input): the message says why."""


class Outcome:
    """What a finished node gives to the steps after it."""

    __slots__ = ("phase", "params", "arts", "node_id", "message")

    def __init__(self, phase: str, params: Optional[Dict[str, PV]] = None, arts: Optional[Dict[str, Optional[StoredArtifact]]] = None,
                 node_id: Optional[str] = None, message: Optional[str] = None) -> None:
        self.phase = phase
        self.params = params or {}
        self.arts = arts or {}
        self.node_id = node_id
        self.message = message

    @property
    def ok(self) -> bool:
        return self.phase in ("Succeeded", "Skipped")


class Scope:
    """What references inside one Steps/DAG invocation can see."""

    __slots__ = ("params", "arts", "steps", "item", "has_item", "engine", "pod")

    def __init__(self, engine: RunInfo, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                 pod: Optional[str] = None) -> None:
        self.engine = engine
        self.params = params
        self.arts = arts
        self.steps: Dict[str, Outcome] = {}
        self.item: Any = None
        self.has_item = False
        #: inside a script template: the name its pod has (``{{pod.name}}``), as Argo names one
        self.pod = pod

    def with_item(self, item: Any) -> "Scope":
        s = Scope(self.engine, self.params, self.arts)
        s.steps = self.steps
        s.item = item
        s.has_item = True
        return s

    # ---------------------------------------------------------------- references

    def lookup(self, ref: str) -> Any:
        """The value of a dotted reference: text for parameters, StoredArtifact for artifacts."""
        parts = ref.split(".")
        head = parts[0]
        if head == "item":
            if not self.has_item:
                raise StepFailed("{{item}} is used outside a with_param/with_sequence step")
            value = self.item
            for p in parts[1:]:
                if isinstance(value, dict) and p in value:
                    value = value[p]
                else:
                    raise StepFailed(f"{{{{{ref}}}}}: the item {self.item!r} has no field {p!r}")
            return value
        if head == "inputs" and len(parts) == 3:
            table = self.params if parts[1] == "parameters" else self.arts if parts[1] == "artifacts" else None
            if table is None or parts[2] not in table:
                raise StepFailed(f"{{{{{ref}}}}} does not name an input of this template")
            v = table[parts[2]]
            return v[0] if parts[1] == "parameters" else v
        if head in ("steps", "tasks") and len(parts) >= 3:
            # step names may contain dots only through bracket access; names here have none
            name = parts[1]
            out = self.steps.get(name)
            if out is None:
                raise StepFailed(f"{{{{{ref}}}}}: step {name!r} has not run (yet) in this template")
            if parts[2] in ("status", "phase"):
                return out.phase
            if parts[2] == "id":
                return out.node_id
            if len(parts) == 5 and parts[2] == "outputs":
                if parts[3] == "parameters":
                    if parts[4] not in out.params or out.params[parts[4]][0] is None:
                        raise StepFailed(
                            f"{{{{{ref}}}}}: step {name!r} ({out.phase}) has no value for output parameter {parts[4]!r}"
                        )
                    return out.params[parts[4]][0]
                if parts[3] == "artifacts":
                    # an output that was not produced (an optional one, a skipped step) is absent:
                    # a consumer that needs it says so, an optional one goes without
                    return out.arts.get(parts[4])
        if ref == "pod.name" and self.pod is not None:
            return self.pod
        if head == "workflow":
            eng = self.engine
            if parts[1:] == ["name"] or parts[1:] == ["uid"]:
                return eng.workflow_id
            if len(parts) == 3 and parts[1] == "parameters" and parts[2] in eng.spec.parameters:
                return eng.spec.parameters[parts[2]]
            if len(parts) == 2 and eng.global_value(parts[1]) is not None:
                return eng.global_value(parts[1])
        raise StepFailed(f"unknown reference {{{{{ref}}}}}")

    def typed(self, ref: str) -> PV:
        """Like :meth:`lookup` for a parameter, with its type name."""
        parts = ref.split(".")
        if parts[0] == "inputs" and len(parts) == 3 and parts[1] == "parameters":
            self.lookup(ref)
            return self.params[parts[2]]
        if parts[0] in ("steps", "tasks") and len(parts) == 5 and parts[3] == "parameters":
            self.lookup(ref)
            return self.steps[parts[1]].params[parts[4]]
        if parts[0] == "workflow" and len(parts) == 3:
            return self.lookup(ref), self.engine.spec.parameter_types.get(parts[2])
        value = self.lookup(ref)
        if isinstance(value, str):
            return value, "str"
        return argo_text(value)  # an item of a loop

    def text(self, text: str) -> str:
        return X.substitute(text, self.lookup)

    def param(self, text: str, declared: Optional[str]) -> PV:
        """A parameter's value from step text: a lone reference keeps its source's type."""
        stripped = text.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1 and not stripped[2:].lstrip().startswith("="):
            return self.typed(stripped[2:-2].strip())
        return self.text(text), declared

    def artifact(self, text: str) -> Optional[StoredArtifact]:
        stripped = text.strip()
        if not (stripped.startswith("{{") and stripped.endswith("}}")):
            raise StepFailed(f"artifact reference {text!r} is not of the form {{{{...}}}}")
        value = self.lookup(stripped[2:-2].strip())
        if value is not None and not isinstance(value, StoredArtifact):
            raise StepFailed(f"{text} is not an artifact")
        return value

    def expression(self, expr: str) -> Any:
        return X.eval_expr(expr, self.lookup)

    def typed_expression(self, expr: str, declared: Optional[str]) -> PV:
        """An expression's value as parameter text: when it is the value of a parameter it read
        (``cond ? steps['a'].outputs.parameters['x'] : ...``), with that parameter's type."""
        seen: list = []

        def lookup(ref: str) -> Any:
            value = self.lookup(ref)
            if isinstance(value, str) and ref.split(".")[0] in ("steps", "tasks", "inputs"):
                try:
                    seen.append((value, self.typed(ref)[1]))
                except (StepFailed, KeyError):
                    pass
            return value

        value = X.eval_expr(expr, lookup)
        if not isinstance(value, str):
            return argo_text(value)
        types = {tp for text, tp in seen if text == value}
        return value, (types.pop() if len(types) == 1 else declared)


def argo_text(value: Any) -> PV:
    """A value that is not a string (an item, an expression's result) as Argo writes it into a
    parameter: JSON without spaces, a whole float as an integer (``6.0`` is ``6``); typed as what
    that text reads as, so a step that takes an ``int`` gets one, as on a cluster."""
    text = X.to_text(value)
    try:
        return text, encode_value(json.loads(text))[1]
    except ValueError:  # not JSON (an object): kept as the value itself
        return encode_value(value)


def records(params: Dict[str, PV]) -> Dict[str, ParameterValue]:
    """Parameter values as they are recorded on a node."""
    return {k: ParameterValue(text=v[0], type=v[1]) for k, v in params.items()}


def item_text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item)


def short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]
