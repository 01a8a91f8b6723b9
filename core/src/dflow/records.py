"""The records a backend returns: workflows, steps, parameter values, reused steps.

Users see them through ``Workflow.query_status`` and ``Workflow.query_step``. They are
pydantic models, so :mod:`dflow.backend` (the ``Backend`` seam) re-exports them without
importing them until they are used: loading a backend plugin stays cheap.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .backend import PHASES
from .spec import StoredArtifact

__all__ = ["StepRecord", "WorkflowRecord", "QueriedWorkflow", "ReusedStep", "ParameterValue", "PHASES", "ReadsAsDict"]


class ParameterValue(BaseModel):
    """A parameter's value as it travels: its text and the type name its writer gave it (see dflow.contract)."""

    model_config = ConfigDict(extra="forbid")
    text: Optional[str] = None
    type: Optional[str] = None


class StepRecord(BaseModel):
    """One node of a running or finished workflow."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    display_name: str
    template: Optional[str] = None
    type: str  # Pod, Steps, DAG, StepGroup, TaskGroup, Skipped, Retry
    phase: str
    key: Optional[str] = None
    parent: Optional[str] = None
    children: List[str] = Field(default_factory=list)
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    message: Optional[str] = None
    attempts: int = 0
    progress: Optional[str] = None
    inputs_parameters: Dict[str, ParameterValue] = Field(default_factory=dict)
    inputs_artifacts: Dict[str, StoredArtifact] = Field(default_factory=dict)
    outputs_parameters: Dict[str, ParameterValue] = Field(default_factory=dict)
    outputs_artifacts: Dict[str, StoredArtifact] = Field(default_factory=dict)
    workdir: Optional[str] = None
    log_path: Optional[str] = None
    #: where and how the step runs when an executor launched it: ``{"executor": "dispatcher",
    #: "job": "1234", "state": "RUNNING", "where": "user@host:/path"}`` (what the launcher describes)
    launch: Optional[Dict[str, str]] = None


def argo_time(t: Optional[float]) -> Optional[str]:
    """A time (seconds since the epoch) as Argo writes it (``2024-05-01T12:00:00Z``, UTC)."""
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(started: Optional[float], finished: Optional[float]) -> datetime.timedelta:
    """From ``started`` to ``finished`` (to now while it runs; zero before it starts), as dflow's ``get_duration``."""
    if started is None:
        return datetime.timedelta()
    import time

    return datetime.timedelta(seconds=max(0.0, (finished if finished is not None else time.time()) - started))


class ReadsAsDict:
    """Attributes that read as items too (``step["outputs"]["artifacts"]``, ``w["status"]["phase"]``,
    ``step.get("outputs", {})``), as the original dflow's Argo objects are dicts."""

    def __getitem__(self, item: str) -> Any:
        if not isinstance(item, str) or item.startswith("_"):
            raise KeyError(item)
        try:
            return getattr(self, item)
        except AttributeError:
            raise KeyError(item) from None

    def get(self, item: str, default: Any = None) -> Any:
        try:
            return self[item]
        except KeyError:
            return default

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and not item.startswith("_") and hasattr(self, item)


class ArgoFields(ReadsAsDict):
    """Fields read as attributes or items (``w.status.phase``, ``w["status"]["phase"]``)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"ArgoFields({self.__dict__!r})"


class WorkflowRecord(ReadsAsDict, BaseModel):
    """A workflow as the backend knows it.

    It also reads as the original dflow's ``ArgoWorkflow`` does (what code copied from dflow's
    own command line reads): ``metadata.name``, ``metadata.creationTimestamp``, ``metadata.labels``,
    ``status.phase``, ``status.message``, ``status.startedAt``, ``status.finishedAt``,
    ``status.progress``, ``uid`` and ``get_duration()``, also as items (``w["status"]["phase"]``).
    """

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    phase: str
    message: Optional[str] = None
    created_at: Optional[float] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    backend: str
    location: Optional[str] = None
    progress: Optional[str] = None
    labels: Dict[str, str] = Field(default_factory=dict)

    @property
    def uid(self) -> str:
        return self.id

    @property
    def metadata(self) -> ArgoFields:
        return ArgoFields(name=self.id, uid=self.id, generateName=f"{self.name}-", creationTimestamp=argo_time(self.created_at),
                          labels=dict(self.labels), annotations={})

    @property
    def status(self) -> ArgoFields:
        return ArgoFields(phase=self.phase, message=self.message, startedAt=argo_time(self.started_at),
                          finishedAt=argo_time(self.finished_at), progress=self.progress, estimatedDuration=None)

    def get_duration(self) -> datetime.timedelta:
        """How long the workflow ran (runs, while it runs), as dflow's ``ArgoWorkflow.get_duration``."""
        return duration(self.started_at, self.finished_at)

    def carries(self, labels: Dict[str, str]) -> bool:
        """Whether the workflow carries every one of ``labels`` (``Workflow(labels=...)``)."""
        return all(self.labels.get(k) == v for k, v in labels.items())


class QueriedWorkflow(WorkflowRecord):
    """What ``Workflow.query()`` returns: the workflow's record, and ``get_step`` as dflow's
    ``ArgoWorkflow`` has it (dpgen2 calls ``wf.query().get_step(sort_by_generation=True)``)."""

    _workflow: Any = PrivateAttr(default=None)

    def get_step(self, *args: Any, **kwargs: Any) -> List[Any]:
        """The workflow's steps, as :meth:`dflow.Workflow.query_step` gives them."""
        return self._workflow.query_step(*args, **kwargs)


class ReusedStep(BaseModel):
    """Outputs of an earlier step, to be taken instead of running a step with the same key."""

    model_config = ConfigDict(extra="forbid")
    key: str
    outputs_parameters: Dict[str, ParameterValue] = Field(default_factory=dict)
    outputs_artifacts: Dict[str, StoredArtifact] = Field(default_factory=dict)
