"""Checks of references inside Steps and DAG templates, done when a workflow is compiled.

Every reference a step makes (``{{steps.NAME...}}``, ``{{tasks.NAME...}}``,
``{{inputs...}}``, and the same in expressions) must name something that exists and
has run by then; DAG tasks must not depend on each other in a cycle. Bad references
are refused here, before anything runs, naming the template, the step and the fix.
"""

from __future__ import annotations

import collections
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from . import spec as S
from .errors import ValidationError

__all__ = ["REF", "task_refs", "check_steps_refs", "check_acyclic", "check_io_refs", "step_texts", "argument_texts", "with_items", "save_key_of"]

REF = re.compile(r"\{\{\s*([^{}=][^{}]*?)\s*\}\}")
_EXPR_STEP = re.compile(r"\b(steps|tasks)\[\s*'([^']+)'\s*\]")


def task_refs(text: str) -> List[str]:
    out = []
    for m in REF.finditer(text or ""):
        parts = m.group(1).split(".")
        if len(parts) > 2 and parts[0] == "tasks":
            out.append(parts[1])
    for m in _EXPR_STEP.finditer(text or ""):
        if m.group(1) == "tasks":
            out.append(m.group(2))
    return out


def _refs(text: str) -> List[Tuple[str, str]]:
    """(scope, name) pairs of the step/task references in ``text``."""
    out = []
    for m in REF.finditer(text or ""):
        parts = m.group(1).split(".")
        if len(parts) > 2 and parts[0] in ("steps", "tasks"):
            out.append((parts[0], parts[1]))
    for m in _EXPR_STEP.finditer(text or ""):
        out.append((m.group(1), m.group(2)))
    return out


def with_items(args: Iterable[S.ArtifactArgument]) -> List[S.ArtifactArgument]:
    """Artifact arguments and, after each, the items of a list or dict it gives, at any depth, in order."""
    return [x for a in args for x in [a] + with_items(a.items or [])]


def argument_texts(args: Iterable[S.ArtifactArgument]) -> List[str]:
    """The texts that may hold references in a step's artifact arguments (the items of a list or dict, too)."""
    flat = with_items(args)
    return [a.ref or "" for a in flat] + [a.from_expression or "" for a in flat]


def step_texts(s: S.StepSpec) -> List[str]:
    texts = list(s.parameters.values()) + [s.when or "", s.with_param or "", s.key or ""]
    texts += argument_texts(s.artifacts.values())
    if s.with_sequence:
        texts += [s.with_sequence.start or "", s.with_sequence.count or "", s.with_sequence.end or ""]
    return texts


def check_unique_names(where: str, kind: str, names: List[str]) -> Set[str]:
    """The names, refused if one is given twice (a list changed by hand: ``add`` refuses it earlier)."""
    unique = set(names)
    if len(unique) != len(names):
        twice = sorted(n for n, count in collections.Counter(names).items() if count > 1)
        raise ValidationError(f"{where} has more than one {kind} called {', '.join(map(repr, twice))}; "
                              f"{kind} names must be unique in it (Argo refuses the workflow otherwise): rename one")
    return unique


def check_steps_refs(tname: str, groups: List[List[S.StepSpec]]) -> None:
    seen: Set[str] = set()
    all_names = {s.name for g in groups for s in g}
    for g in groups:
        for s in g:
            for text in step_texts(s):
                for scope, name in _refs(text):
                    if scope == "tasks":
                        raise ValidationError(f"Steps {tname!r}: step {s.name!r} refers to tasks.{name}; inside Steps refer to steps.NAME")
                    if name not in all_names:
                        raise ValidationError(
                            f"Steps {tname!r}: step {s.name!r} uses outputs of step {name!r}, which is not in this Steps; "
                            "pass values between templates through inputs and outputs"
                        )
                    if name not in seen:
                        raise ValidationError(
                            f"Steps {tname!r}: step {s.name!r} uses outputs of step {name!r}, which runs in the same "
                            "group or later; add the producing step in an earlier group (wf.add order)"
                        )
        seen |= {s.name for s in g}


def check_acyclic(dname: str, tasks: List[S.StepSpec]) -> None:
    deps = {t.name: list(t.dependencies) for t in tasks}
    state: Dict[str, int] = {}

    def visit(n: str, path: List[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = path[path.index(n):] + [n]
            raise ValidationError(f"DAG {dname!r}: tasks depend on each other in a cycle: {' -> '.join(cycle)}")
        state[n] = 1
        for d in deps.get(n, []):
            visit(d, path + [n])
        state[n] = 2

    for n in deps:
        visit(n, [])


def check_io_refs(t: Any, spec: Any) -> None:
    pnames = {p.name for p in spec.inputs_parameters}
    anames = {a.name for a in spec.inputs_artifacts}
    steps = spec.tasks if spec.kind == "dag" else [s for g in spec.steps for s in g]
    for s in steps:
        for text in step_texts(s):
            for m in REF.finditer(text):
                parts = m.group(1).split(".")
                if parts[0] == "inputs" and len(parts) >= 3:
                    table = pnames if parts[1] == "parameters" else anames
                    if parts[2] not in table:
                        raise ValidationError(
                            f"{type(t).__name__} {t.name!r}: step {s.name!r} refers to {{{{{m.group(1)}}}}}, but the "
                            f"template has no input {parts[1][:-1]} {parts[2]!r} (it has {sorted(table)}); "
                            "a step can only refer to the inputs of the template it is in"
                        )




def check_script_refs(t: S.ScriptTemplateSpec, where: str) -> None:
    """A script may only refer to the inputs its template declares (else it would run with nothing there)."""
    if t.python_op is not None:
        return
    declared = {"parameters": {p.name for p in t.inputs_parameters}, "artifacts": {a.name for a in t.inputs_artifacts}}
    for m in REF.finditer(t.script or ""):
        parts = m.group(1).split(".")
        if parts[0] != "inputs" or len(parts) < 3 or parts[1] not in declared:
            continue
        if parts[2] not in declared[parts[1]]:
            raise ValidationError(
                f"{where} refers to {{{{{m.group(1)}}}}} in its script, but it declares no input "
                f"{parts[1][:-1]} {parts[2]!r} (its input {parts[1]} are {sorted(declared[parts[1]]) or 'none'}); "
                f"declare it (template.inputs.{parts[1]}[{parts[2]!r}] = ...) or fix the reference"
            )


def check_unique_keys(templates: List[Any]) -> None:
    """Two steps with the same literal key would write one step directory and one reuse record."""
    seen: Dict[str, str] = {}
    for t in templates:
        for s in t.all_steps():
            if s.key is None or "{{" in s.key:
                continue
            where = f"step {s.name!r} of {t.name!r}"
            if s.key in seen:
                raise ValidationError(
                    f"{where} and {seen[s.key]} have the same key {s.key!r}; keys name one step each "
                    "(give them different keys, e.g. with a placeholder: key='name-{{item}}')"
                )
            seen[s.key] = where


def save_key_of(t: Any, name: str, a: Any) -> Optional[str]:
    """The key an output artifact's ``save=[S3Artifact(key=...)]`` stores a copy of it at, checked.

    As in dflow, the last ``S3Artifact`` of ``save`` counts. Its key may hold
    ``{{inputs.parameters.NAME}}`` of the template, ``{{workflow.name}}``, ``{{workflow.uid}}``
    and ``{{pod.name}}``, filled in when the step ends; anything else is refused here.
    """
    from .artifact import S3Artifact

    where = f"template {t.name!r}, output artifact {name!r}"
    items = a.save if isinstance(a.save, (list, tuple)) else [a.save] if a.save is not None else []
    key = None
    for item in items:
        if not isinstance(item, S3Artifact):
            raise ValidationError(
                f"{where}: save={item!r} is not supported; only S3Artifact(key=...) is (a PVC, as with .pvc(), "
                "is not). Store the output at a key with save=[S3Artifact(key='...')], or read the step's output")
        if item.storage not in (None, "custom"):
            raise ValidationError(
                f"{where}: save=S3Artifact(key={item.key!r}, storage={item.storage!r}): a copy goes to the "
                "workflow's configured store only; leave storage out")
        key = item.key
    if key is None:
        return None
    declared = set(t.inputs.parameters)
    for m in REF.finditer(key):
        ref = m.group(1)
        parts = ref.split(".")
        ok = ref in ("workflow.name", "workflow.uid", "pod.name") or (
            len(parts) == 3 and parts[:2] == ["inputs", "parameters"] and parts[2] in declared)
        if not ok:
            raise ValidationError(
                f"{where}: the key {key!r} of save refers to {{{{{ref}}}}}; a saved output's key may use "
                "{{inputs.parameters.NAME}} of the template, {{workflow.name}}, {{workflow.uid}} and {{pod.name}}")
    literal = REF.sub("x", key)
    if "{{" in literal or literal.startswith("/") or ".." in literal.split("/"):
        raise ValidationError(
            f"{where}: the key {key!r} of save must be relative, without '..' parts or expressions")
    return key


def check_exit_handler(t: Any) -> str:
    """The name of the workflow's exit handler, checked: it is called with no arguments (as Argo calls
    ``onExit``), so every input parameter needs a value and every input artifact must be optional."""
    where = f"the exit handler (on_exit) template {t.name!r}"
    for p in t.inputs_parameters:
        if p.value is None:
            raise ValidationError(
                f"{where}: input parameter {p.name!r} has no value, and an exit handler is given no arguments; "
                f"give it one (template.inputs.parameters[{p.name!r}] = InputParameter(value=...)); "
                "'{{workflow.status}}' and '{{workflow.failures}}' tell how the workflow ended")
    for a in t.inputs_artifacts:
        if not a.optional:
            raise ValidationError(
                f"{where}: input artifact {a.name!r} is not optional, and an exit handler is given no arguments; "
                f"make it optional (template.inputs.artifacts[{a.name!r}].optional = True)")
    return t.name


def pickled_instance(t: Any, name: str) -> Optional[str]:
    """The OP object a PythonOPTemplate was given, as base64 pickle text (None for an OP class)."""
    inst = getattr(t, "op_instance", None)
    if inst is None:
        return None
    import base64
    import pickle

    try:
        return base64.b64encode(pickle.dumps(inst)).decode("ascii")
    except Exception as e:  # noqa: BLE001 - say which template and why
        raise ValidationError(
            f"template {name!r}: the OP object given to PythonOPTemplate cannot be pickled ({type(e).__name__}: "
            f"{e}); give the OP class and its arguments as op_kwargs=... instead"
        ) from None
