"""The records a backend returns: workflows, steps, parameter values, reused steps.

Users see them through ``Workflow.query_status`` and ``Workflow.query_step``. They are
pydantic models, so :mod:`dflow.backend` (the ``Backend`` seam) re-exports them without
importing them until they are used: loading a backend plugin stays cheap.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .backend import PHASES
from .spec import StoredArtifact

__all__ = ["StepRecord", "WorkflowRecord", "QueriedWorkflow", "ReusedStep", "ParameterValue", "PHASES"]


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


class WorkflowRecord(BaseModel):
    """A workflow as the backend knows it."""

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
