"""Exit-handler promises of the backend conformance suite: ``Workflow(on_exit=template)`` as Argo's ``onExit``.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them). The
handler runs once the entry point has ended, whatever its phase, as node ``<workflow>.onExit``;
``{{workflow.status}}`` is the entry point's phase there and ``{{workflow.failures}}`` a JSON list
of the nodes that failed (``null`` if none did); a handler that fails turns a workflow that
succeeded into a failed one, and leaves a failed one as it was. ``Workflow.stop()`` ends the
running steps and then runs the handler; ``terminate()`` runs none.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from dflow import Step, Steps, Workflow
from dflow.python import PythonOPTemplate

from . import ops

__all__ = ["ExitChecks"]


def _handler() -> Steps:
    """An exit handler as Argo's walk-through writes one: a report, then a branch on the workflow's status."""
    bye = Steps("bye")
    bye.add(Step("report", PythonOPTemplate(ops.Echo), parameters={"v": "{{workflow.status}}"}))
    bye.add([
        Step("celebrate", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, when="{{workflow.status}} == Succeeded"),
        Step("failures", PythonOPTemplate(ops.Echo), parameters={"v": "{{workflow.failures}}"},
             when="{{workflow.status}} != Succeeded"),
    ])
    return bye


class ExitChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``)."""

    def _exit_outputs(self, wf: Workflow) -> Dict[str, Any]:
        """The exit handler's node and the output ``v``/``n`` of each of its steps that ran, by step name."""
        steps = wf.query_step()
        node = [s for s in steps if s.name == f"{wf.id}.onExit"]
        assert len(node) == 1, [s.name for s in steps]
        below = {s.name: s for s in wf.query_step(parent_id=node[0].id) if s.type == "Pod"}
        return {"node": node[0], **{k: s.outputs.parameters[next(iter(s.outputs.parameters))].value
                                    for k, s in below.items() if s.phase == "Succeeded"}}

    def test_exit_handler_runs_after_success_and_sees_the_status(self) -> None:
        wf = Workflow("exit-ok", on_exit=_handler())
        wf.add(Step("work", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        self.run(wf)  # type: ignore[attr-defined]
        out = self._exit_outputs(wf)
        assert out["node"].phase == "Succeeded"
        assert out["report"] == "Succeeded"
        assert out["celebrate"] == 2 and "failures" not in out, out

    def test_exit_handler_runs_after_a_failure_and_lists_it(self) -> None:
        wf = Workflow("exit-fail", on_exit=_handler())
        wf.add(Step("bad", PythonOPTemplate(ops.FailIfOdd), parameters={"x": 1}))
        self.run(wf, expect="Failed")  # type: ignore[attr-defined]
        out = self._exit_outputs(wf)
        assert out["report"] == "Failed" and "celebrate" not in out, out
        failures = json.loads(out["failures"])
        assert "bad" in [f["displayName"] for f in failures], failures
        assert all(f["phase"] in ("Failed", "Error") for f in failures), failures

    def test_a_failing_exit_handler_fails_a_workflow_that_succeeded(self) -> None:
        handler = PythonOPTemplate(ops.FailIfOdd)
        handler.inputs.parameters["x"].value = 3
        wf = Workflow("exit-bad", on_exit=handler)
        wf.add(Step("work", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        self.run(wf, expect="Failed")  # type: ignore[attr-defined]
        assert self.one(wf, name="work").phase == "Succeeded"  # type: ignore[attr-defined]
        node = [s for s in wf.query_step() if s.name == f"{wf.id}.onExit"]
        assert len(node) == 1 and node[0].phase == "Failed", [(s.name, s.phase) for s in wf.query_step()]

    def _stopped(self, name: str, how: str) -> Workflow:
        """A run whose first step sleeps, ended while it sleeps by ``stop`` or ``terminate``."""
        self.need_fs()  # type: ignore[attr-defined]
        marker = str(self.scratch / f"{name}-sleep")  # type: ignore[attr-defined]
        wf = Workflow(name, on_exit=_handler())
        wf.add(Step("slow", PythonOPTemplate(ops.Sleep), parameters={"seconds": 120, "marker": marker}))
        wf.add(Step("never", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        ops.submit_until_started(wf, marker)
        getattr(wf, how)()
        assert wf.wait(timeout=60) == "Failed"
        assert wf.query_step(name="never") == []
        return wf

    def test_stop_ends_the_steps_then_runs_the_exit_handler(self) -> None:
        wf = self._stopped("exit-stop", "stop")
        out = self._exit_outputs(wf)
        assert out["node"].phase == "Succeeded" and out["report"] == "Failed", out
        assert "slow" in [f["displayName"] for f in json.loads(out["failures"])]

    def test_terminate_runs_no_exit_handler(self) -> None:
        wf = self._stopped("exit-term", "terminate")
        assert [s.name for s in wf.query_step() if s.name.endswith(".onExit")] == []
