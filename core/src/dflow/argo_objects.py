"""What ``Workflow.query_step`` returns: step objects shaped like the original dflow's ``ArgoStep``."""

from __future__ import annotations

import datetime
from typing import Any, Dict, Optional

from .backend import StepRecord, WorkflowRecord
from .contract import carried_pickle_type, decode_value, encode_value, is_pickled
from .records import ReadsAsDict, argo_time, duration
from .spec import StoredArtifact

__all__ = ["ArgoStep", "ArgoParameter", "ArgoArtifact", "ArgoWorkflow", "GlobalOutputs", "global_outputs"]

#: what ``query_workflows`` returns for each workflow (the original's name)
ArgoWorkflow = WorkflowRecord


class ArgoParameter(ReadsAsDict):
    """An input or output parameter of a step; ``.value`` has the parameter's Python type
    (the text itself when its writer recorded no type, as a shell script's outputs).

    A value its writer recorded as pickled (a type JSON cannot hold) is unpickled only when
    ``declared`` (the type the template declares for the parameter) asks for that type;
    otherwise ``.value`` is its JSON wrapper, a plain dict, and no code runs.
    """

    def __init__(self, name: str, text: Optional[str], type_name: Optional[str], declared: Optional[str] = None,
                 text_only: bool = False) -> None:
        """``text_only``: the backend records declared types, not the writer's (Argo)."""
        self.name = name
        self._text = text
        self.type = type_name
        allow = is_pickled(type_name) and declared is not None and declared == str(type_name)[len("pickle:"):]
        carried = carried_pickle_type(text, type_name or declared) if text_only else None
        if carried is not None:  # a backend that records only declared types (Argo), as the step runtime reads it
            type_name, allow = carried, True
        # a value with no recorded type (a shell script's output) is its text, as in dflow; a backend that
        # records no types (Argo) gives an output of a Steps/DAG template the type the spec implies for it
        kind = type_name
        if kind is None and declared is not None and not is_pickled(declared):
            kind = declared
        self.value = text
        if text is not None and kind is not None:
            try:
                self.value = decode_value(text, kind, allow_pickle=allow)
            except ValueError:
                if type_name is not None:
                    raise

    def __repr__(self) -> str:
        return f"ArgoParameter({self.name!r}, value={self.value!r})"


class ArgoArtifact(ReadsAsDict):
    """An artifact of a step; pass it to ``download_artifact`` or to another step."""

    def __init__(self, name: str, stored: StoredArtifact) -> None:
        self.name = name
        self.key = stored.key
        self.storage = stored.storage
        self.catalog = stored.catalog
        self.archive = stored.archive
        self.local_path = stored.local_path
        self.bucket_name = stored.bucket
        self._stored = stored

    @property
    def s3(self) -> "ArgoArtifact":
        return self

    def sub_path(self, path: str) -> Any:
        from .io import ArtifactSlice

        return ArtifactSlice(self, path)

    def __repr__(self) -> str:
        return f"ArgoArtifact({self.name!r}, key={self.key!r})"


class _IO(ReadsAsDict):
    def __init__(self) -> None:
        self.parameters: Dict[str, ArgoParameter] = {}
        self.artifacts: Dict[str, ArgoArtifact] = {}


class ArgoStep(ReadsAsDict):
    """One step of a workflow, as ``query_step`` returns it."""

    def __init__(self, record: StepRecord, workflow: Any = None,
                 declared: Optional[Dict[str, Dict[str, Optional[str]]]] = None, text_only: bool = False) -> None:
        """``declared``: ``{"inputs": {name: type}, "outputs": {name: type}}`` of the step's template;
        ``text_only``: the backend's records hold declared types, not the writer's (see ``ArgoParameter``)."""
        self.record = record
        self.workflow = workflow
        self.id = record.id
        self.name = record.name
        self.displayName = record.display_name
        self.key = record.key
        self.phase = record.phase
        self.type = record.type
        self.templateName = record.template
        self.startedAt = argo_time(record.started_at)
        self.finishedAt = argo_time(record.finished_at)
        self.message = record.message
        self.progress = record.progress
        self.attempts = record.attempts
        self.workdir = record.workdir
        self.inputs = _IO()
        self.outputs = _IO()
        ins = (declared or {}).get("inputs") or {}
        outs = (declared or {}).get("outputs") or {}
        for k, v in record.inputs_parameters.items():
            self.inputs.parameters[k] = ArgoParameter(k, v.text, v.type, ins.get(k), text_only)
        for k, a in record.inputs_artifacts.items():
            self.inputs.artifacts[k] = ArgoArtifact(k, a)
        for k, v in record.outputs_parameters.items():
            self.outputs.parameters[k] = ArgoParameter(k, v.text, v.type, outs.get(k), text_only)
        for k, a in record.outputs_artifacts.items():
            self.outputs.artifacts[k] = ArgoArtifact(k, a)
        self._own_artifacts: Dict[str, Any] = {}  # what a reuse takes where the outputs show a fan-out's stack

    def read_as_stack(self, stack: Dict[str, Any]) -> None:
        """Show the sliced outputs ``stack`` of this slice's fan-out (see :func:`slices_share_stacks`);
        reusing the step still hands on its own outputs."""
        for k, a in stack.items():
            if k in self.outputs.artifacts:
                self._own_artifacts[k] = self.outputs.artifacts[k]
            self.outputs.artifacts[k] = ArgoArtifact(k, a)

    @property
    def duration(self) -> Optional[float]:
        """Seconds the step ran (runs, while it runs); None before it starts."""
        return None if self.record.started_at is None else self.get_duration().total_seconds()

    def get_duration(self) -> datetime.timedelta:
        """How long the step ran (runs, while it runs), as dflow's ``ArgoStep.get_duration``."""
        return duration(self.record.started_at, self.record.finished_at)

    def modify_output_parameter(self, name: str, value: Any) -> None:
        """Change an output parameter before this step is reused (3.1.13)."""
        text, tp = encode_value(value)
        self.outputs.parameters[name] = ArgoParameter(name, text, tp, tp[len("pickle:"):] if is_pickled(tp) else None)

    def modify_output_artifact(self, name: str, artifact: Any) -> None:
        """Change an output artifact before this step is reused (3.1.13)."""
        from .artifact_args import artifact_argument

        arg = artifact_argument(artifact, f"modify_output_artifact({name!r})")
        if arg.stored is None:
            raise ValueError("modify_output_artifact takes a stored artifact (upload_artifact(...) or a step's output)")
        self.outputs.artifacts[name] = ArgoArtifact(name, arg.stored)
        self._own_artifacts.pop(name, None)

    def reused_outputs(self) -> Dict[str, Any]:
        return {
            "parameters": {k: (p._text, p.type) for k, p in self.outputs.parameters.items()},
            "artifacts": {k: self._own_artifacts.get(k, a)._stored for k, a in self.outputs.artifacts.items()},
        }

    def __repr__(self) -> str:
        return f"ArgoStep(name={self.displayName!r}, key={self.key!r}, phase={self.phase!r}, type={self.type!r})"


class GlobalOutputs(_IO):
    """A workflow's global outputs: ``.parameters[name].value`` and ``.artifacts[name]``."""

    def __repr__(self) -> str:
        return f"GlobalOutputs(parameters={list(self.parameters)}, artifacts={list(self.artifacts)})"


def global_outputs(spec: Any, records: Any) -> GlobalOutputs:
    """The outputs that templates of ``spec`` make global, from the step ``records`` of a run.

    When several nodes produce the same global name, the one that finished last wins.
    """
    params: Dict[str, Any] = {}
    arts: Dict[str, Any] = {}
    for t in spec.templates:
        for p in t.outputs_parameters:
            if p.global_name:
                params.setdefault(t.name, {})[p.name] = (p.global_name, p.type)
        for a in t.outputs_artifacts:
            if a.global_name:
                arts.setdefault(t.name, {})[a.name] = a.global_name
    out = GlobalOutputs()
    for r in sorted(records, key=lambda r: r.finished_at or 0):
        if r.phase not in ("Succeeded", "Failed") or r.type in ("StepGroup", "TaskGroup", "Retry"):
            continue
        for name, (global_name, declared) in params.get(r.template or "", {}).items():
            v = r.outputs_parameters.get(name)
            if v is not None and v.text is not None:
                out.parameters[global_name] = ArgoParameter(global_name, v.text, v.type, declared)
        for name, global_name in arts.get(r.template or "", {}).items():
            a = r.outputs_artifacts.get(name)
            if a is not None:
                out.artifacts[global_name] = ArgoArtifact(global_name, a)
    return out


def slices_share_stacks(spec: Any, records: Any) -> Dict[str, Dict[str, Any]]:
    """For each fan-out node of a step whose ``Slices`` name output artifacts: the node id and those
    outputs as gathered. As in dflow, where the slices of such a step write their sliced outputs
    to one storage place, each succeeded slice reads as having the whole stack
    (``query_step(name=...)[0].outputs.artifacts[...]`` holds every slice's files)."""
    sliced: Dict[Any, set] = {}
    for t in getattr(spec, "templates", None) or []:
        for s in t.all_steps():
            if s.fanout is not None and s.fanout.gather_artifacts:
                sliced.setdefault((s.name, s.template), set()).update(s.fanout.gather_artifacts)
    if not sliced:
        return {}
    out: Dict[str, Dict[str, Any]] = {}
    for r in records:
        names = sliced.get((r.name, r.template)) if r.type in ("StepGroup", "TaskGroup") else None
        if names:
            arts = {n: a for n, a in r.outputs_artifacts.items() if n in names}
            if arts:
                out[r.id] = arts
    return out
