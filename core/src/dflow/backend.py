"""What a backend implements, and the records it returns.

A backend receives a :class:`~dflow.spec.WorkflowSpec` and runs it; it reports
back with :class:`WorkflowRecord` and :class:`StepRecord` objects (defined in
:mod:`dflow.records`, and importable from here too). Users see these through
``Workflow.query_status`` and ``Workflow.query_step``.

This module imports neither pydantic nor the spec: every dflow process loads every
backend plugin, and the local backend starts its fork server as soon as its backend
object exists (see ``Backend.submitting``).
"""

from __future__ import annotations

import abc
import contextlib
from typing import TYPE_CHECKING, Any, ContextManager, Dict, List, Optional

if TYPE_CHECKING:
    from .records import ParameterValue, ReusedStep, StepRecord, WorkflowRecord  # noqa: F401
    from .spec import WorkflowSpec

__all__ = ["Backend", "StepRecord", "WorkflowRecord", "ReusedStep", "ParameterValue", "PHASES"]

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error", "Skipped", "Omitted")

_RECORDS = ("StepRecord", "WorkflowRecord", "ReusedStep", "ParameterValue")


def __getattr__(name: str) -> Any:
    if name in _RECORDS:
        from . import records

        return getattr(records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Backend(abc.ABC):
    """A place where workflows run (``debug``: this machine; ``argo``: a cluster)."""

    name: str = "backend"
    #: the storage client (by registered name) artifacts go through when ``s3_config``
    #: names none: a cluster backend uses the cluster's artifact repository
    default_storage: str = "s3"
    #: whether a parameter's record carries its writer's type (``pickle:X`` for a pickled value); a
    #: backend that carries parameters as text only (Argo) records the declared types instead
    records_writer_types: bool = True
    #: the id of the last run this backend printed itself when it started (a backend that runs the
    #: workflow inside ``submit()``); ``Workflow.submit()`` then does not print it again at the end
    announced: Optional[str] = None

    def submitting(self, *, detach: bool = False) -> ContextManager[Any]:
        """Entered by ``Workflow.submit()`` before the workflow compiles and left after :meth:`submit`
        returned (or compiling failed): a backend may start meanwhile what its run will need, and
        must release it on leaving. The default does nothing."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def submit(self, spec: WorkflowSpec, *, reuse: Optional[List[ReusedStep]] = None, detach: bool = False) -> str:
        """Start ``spec``; return the workflow id. Without ``detach`` a local backend may run it to its end."""

    @abc.abstractmethod
    def get_workflow(self, workflow_id: str) -> WorkflowRecord:
        """The workflow's record; ``WorkflowNotFoundError`` when unknown."""

    @abc.abstractmethod
    def get_spec(self, workflow_id: str) -> WorkflowSpec:
        """The spec the workflow was submitted with."""

    @abc.abstractmethod
    def list_steps(self, workflow_id: str) -> List[StepRecord]:
        """Every node of the workflow, in the order they started."""

    @abc.abstractmethod
    def terminate(self, workflow_id: str) -> None:
        """Stop the workflow now; running steps end, nothing new starts."""

    @abc.abstractmethod
    def list_workflows(self) -> List[WorkflowRecord]:
        """Workflows this backend knows about."""

    def list_labelled_workflows(self, labels: Dict[str, str]) -> List[WorkflowRecord]:
        """The workflows that carry every one of ``labels`` (``Workflow(labels=...)``). By default the
        full listing, filtered here; a backend whose server filters by labels (Argo's label
        selector) overrides it, so a namespace of many runs is not listed in full."""
        return [r for r in self.list_workflows() if r.carries(labels)]

    #: how often ``wait`` looks at most: it starts at ``poll_start`` seconds and doubles
    poll_start: float = 0.05
    poll_cap: float = 2.0

    def wait(self, workflow_id: str, timeout: Optional[float] = None, interval: Optional[float] = None) -> WorkflowRecord:
        """Block until the workflow has finished (or ``timeout`` seconds passed).

        Polls quickly at first, then less often, up to every ``interval`` seconds
        (default: the backend's ``poll_cap``).
        """
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        delay, cap = self.poll_start, self.poll_cap if interval is None else max(interval, self.poll_start)
        while True:
            rec = self.get_workflow(workflow_id)
            if rec.phase not in ("Pending", "Running"):
                return rec
            if deadline is not None and time.monotonic() > deadline:
                return rec
            time.sleep(delay)
            delay = min(cap, delay * 2)

    def logs(self, workflow_id: str, step_id: str) -> str:
        """The log of one step."""
        raise NotImplementedError(f"backend {self.name!r} does not serve logs")

    def resume(self, workflow_id: str, detach: bool = False) -> None:
        """Run a stopped, suspended or failed workflow on, keeping the steps that succeeded."""
        raise NotImplementedError(f"backend {self.name!r} cannot resume workflows")

    def stop(self, workflow_id: str) -> None:
        """End the run, running what the backend runs at the end of a run; by default :meth:`terminate`."""
        self.terminate(workflow_id)

    def suspend(self, workflow_id: str) -> None:
        """Start no new step until :meth:`resume` is called."""
        raise NotImplementedError(f"backend {self.name!r} cannot suspend workflows")

    def delete(self, workflow_id: str) -> None:
        raise NotImplementedError(f"backend {self.name!r} cannot delete workflows")

    def render(self, spec: WorkflowSpec) -> Dict[str, Any]:
        """The backend's own description of ``spec`` (an Argo manifest, ...)."""
        raise NotImplementedError(f"backend {self.name!r} has no manifest form")

    def spec_of(self, manifest: Dict[str, Any]) -> WorkflowSpec:
        """The spec of a manifest :meth:`render` made (``Workflow.from_dict``): it may then run on any backend."""
        raise NotImplementedError(f"backend {self.name!r} has no manifest form")
