"""Exit handlers and lifecycle hooks in the backend conformance suite: ``Workflow(on_exit=template)``
as Argo's ``onExit``, and ``Step(success_hook=..., running_hook=..., failure_hook=...)`` as Argo's
step hooks.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them). The
handler runs once the entry point has ended, whatever its phase, as node ``<workflow>.onExit``;
``{{workflow.status}}`` is the entry point's phase there and ``{{workflow.failures}}`` a JSON list
of the nodes that failed (``null`` if none did); a handler that fails turns a workflow that
succeeded into a failed one, and leaves a failed one as it was. ``Workflow.stop()`` ends the
running steps and then runs the handler; ``terminate()`` runs none.

A hook is a node below its step's, ``<step>.hooks.<event>``, run once the step is running
(``running``), has succeeded (``success``) or has failed (``failure``); its arguments see the
step's outputs, the step's dependents wait for it, and its phase changes nothing else.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict

from dflow import DAG, HookStep, Step, Steps, Task, Workflow, argo_range
from dflow.python import PythonOPTemplate, Slices

from . import ops

__all__ = ["ExitChecks", "HookChecks"]


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
        assert "bad" in (wf.query().message or "")  # the run ends as its entry point did, not as the handler

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

    def test_a_stop_while_the_exit_handler_runs_changes_nothing(self) -> None:
        self.need_fs()  # type: ignore[attr-defined]
        first, handler = (str(self.scratch / n) for n in ("slow", "handler"))  # type: ignore[attr-defined]
        bye = PythonOPTemplate(ops.Sleep)
        bye.inputs.parameters["seconds"].value = 1.0
        bye.inputs.parameters["marker"].value = handler
        wf = Workflow("exit-stop-twice", on_exit=bye)
        wf.add(Step("slow", PythonOPTemplate(ops.Sleep), parameters={"seconds": 120, "marker": first}))
        ops.submit_until_started(wf, first)
        wf.stop()
        deadline = time.time() + 60
        while not os.path.exists(handler) and time.time() < deadline:
            time.sleep(0.05)
        wf.stop()  # as Argo: the exit handler runs on
        assert wf.wait(timeout=60) == "Failed"
        node = [s for s in wf.query_step() if s.name == f"{wf.id}.onExit"]
        assert len(node) == 1 and node[0].phase == "Succeeded", [(s.name, s.phase) for s in wf.query_step()]

    def test_terminate_runs_no_exit_handler(self) -> None:
        wf = self._stopped("exit-term", "terminate")
        assert [s.name for s in wf.query_step() if s.name.endswith(".onExit")] == []


def _hooked(x: int, **more: Any) -> Step:
    """A step that fails for an odd ``x``, with a success hook that adds one to its output and a failure hook."""
    return Step("work", PythonOPTemplate(ops.FailIfOdd), parameters={"x": x},
                success_hook=HookStep(PythonOPTemplate(ops.AddOne), parameters={"n": "{{steps.work.outputs.parameters.y}}"}),
                failure_hook=HookStep(PythonOPTemplate(ops.Echo), parameters={"v": "it failed"}), **more)


class HookChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``)."""

    def _hooks_of(self, wf: Workflow, step: str) -> Dict[str, Any]:
        """The hook nodes below ``step``, by event."""
        host = self.one(wf, name=step)  # type: ignore[attr-defined]
        return {s.name.rsplit(".", 1)[-1]: s for s in wf.query_step(parent_id=host.id) if ".hooks." in s.name}

    def test_success_hook_sees_the_outputs_and_the_next_step_waits_for_it(self) -> None:
        wf = Workflow("hook-ok")
        wf.add(_hooked(4))
        wf.add(Step("after", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        self.run(wf)  # type: ignore[attr-defined]
        hooks = self._hooks_of(wf, "work")
        assert set(hooks) == {"success"}, hooks
        hook = hooks["success"]
        assert hook.phase == "Succeeded" and hook.outputs.parameters["n"].value == 5
        after = self.one(wf, name="after")  # type: ignore[attr-defined]
        assert hook.record.finished_at <= after.record.started_at

    def test_failure_hook_runs_and_the_run_ends_as_the_step_did(self) -> None:
        wf = Workflow("hook-fail")
        wf.add(_hooked(3))
        self.run(wf, expect="Failed")  # type: ignore[attr-defined]
        hooks = self._hooks_of(wf, "work")
        assert set(hooks) == {"failure"}, hooks
        assert hooks["failure"].phase == "Succeeded" and hooks["failure"].outputs.parameters["v"].value == "it failed"

    def test_a_failing_hook_changes_neither_the_step_nor_the_run(self) -> None:
        wf = Workflow("hook-bad")
        wf.add(Step("work", PythonOPTemplate(ops.AddOne), parameters={"n": 1},
                    success_hook=HookStep(PythonOPTemplate(ops.FailIfOdd), parameters={"x": 1})))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="work").phase == "Succeeded"  # type: ignore[attr-defined]
        assert self._hooks_of(wf, "work")["success"].phase == "Failed"

    def test_running_hook_runs_while_the_step_runs_and_not_for_a_skipped_one(self) -> None:
        self.need_fs()  # type: ignore[attr-defined]
        hook = HookStep(PythonOPTemplate(ops.Echo), parameters={"v": "started"})
        wf = Workflow("hook-running")
        wf.add(Step("slow", PythonOPTemplate(ops.Sleep), running_hook=hook,
                    parameters={"seconds": 1.5, "marker": str(self.scratch / "slow")}))  # type: ignore[attr-defined]
        wf.add(Step("skipped", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, when="1 == 2", running_hook=hook))
        self.run(wf)  # type: ignore[attr-defined]
        hooks = self._hooks_of(wf, "slow")
        assert set(hooks) == {"running"} and hooks["running"].outputs.parameters["v"].value == "started", hooks
        assert self._hooks_of(wf, "skipped") == {}

    def test_hooks_of_a_dag_task(self) -> None:
        dag = DAG("hooked-dag")
        t = Task("t", PythonOPTemplate(ops.Square), parameters={"x": 3},
                 success_hook=HookStep(PythonOPTemplate(ops.AddOne), parameters={"n": "{{tasks.t.outputs.parameters.y}}"}))
        dag.add(t)
        dag.add(Task("next", PythonOPTemplate(ops.AddOne), parameters={"n": t.outputs.parameters["y"]}))
        wf = Workflow("hook-dag", dag=dag)
        self.run(wf)  # type: ignore[attr-defined]
        assert self._hooks_of(wf, "t")["success"].outputs.parameters["n"].value == 10
        assert self.one(wf, name="next").outputs.parameters["n"].value == 10  # type: ignore[attr-defined]

    def test_a_reused_step_keeps_its_hooks(self) -> None:
        first = Workflow("hook-reuse")
        first.add(_hooked(4, key="work-4"))
        self.run(first)  # type: ignore[attr-defined]
        reused = first.query_step(key="work-4")
        assert len(reused) == 1, reused
        second = Workflow("hook-reuse")
        second.add(_hooked(4, key="work-4"))
        second.submit(reuse_step=reused)
        assert second.wait(timeout=self.wait_timeout) == "Succeeded"  # type: ignore[attr-defined]
        hooks = self._hooks_of(second, "work")
        assert set(hooks) == {"success"}, hooks
        assert hooks["success"].phase == "Succeeded" and hooks["success"].outputs.parameters["n"].value == 5

    def test_a_fan_out_with_its_own_parallelism_runs_its_hook_once_it_has_ended(self) -> None:
        wf = Workflow("hook-fan")
        fan = Step("fan", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                   parameters={"x": [1, 2, 3]}, with_param=argo_range(3), parallelism=1,
                   success_hook=HookStep(PythonOPTemplate(ops.Echo), parameters={"v": "all squared"}))
        wf.add(fan)
        wf.add(Step("sum", PythonOPTemplate(ops.Sum), parameters={"values": fan.outputs.parameters["y"]}))
        self.run(wf)  # type: ignore[attr-defined]
        hooks = [s for s in wf.query_step() if ".hooks." in s.name]
        assert [(h.name.rsplit(".", 1)[-1], h.phase) for h in hooks] == [("success", "Succeeded")], hooks
        assert hooks[0].outputs.parameters["v"].value == "all squared"
        total = self.one(wf, name="sum")  # type: ignore[attr-defined]
        assert total.outputs.parameters["total"].value == 1 + 4 + 9
        assert hooks[0].record.finished_at <= total.record.started_at
