"""Step-control promises of the backend conformance suite: retries, continue flags, queries by generation.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them). Each
was found by running the same probe on the local backend and on Argo: dflow's behaviour there.
"""

from __future__ import annotations

from dflow import InputParameter, Step, Steps, Workflow
from dflow.python import PythonOPTemplate

from . import ops

__all__ = ["ControlChecks"]


class ControlChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``, ``scratch``)."""

    def test_any_other_exception_is_retried_as_in_dflow(self) -> None:
        """dflow's script exits 1 for a TransientError and for any exception it does not catch, and retries
        exit code 1: only a FatalError is final."""
        self.need_fs()  # type: ignore[attr-defined]
        counter = str(self.scratch / "count")
        wf = Workflow("retry-plain")
        wf.add(Step("flaky", PythonOPTemplate(ops.FlakyPlain, retry_on_transient_error=3),
                    parameters={"counter": counter, "fail_times": 2}))
        self.run(wf)
        assert self.one(wf, name="flaky").outputs.parameters["attempts"].value == 3

    def test_continue_on_error_does_not_go_on_after_a_failure(self) -> None:
        """As Argo's ``continueOn``, each flag for its own phase: ``continue_on_error`` goes on after a step
        that ended in error, not after one that failed (that is ``continue_on_failed``)."""
        wf = Workflow("cont-error")
        wf.add(Step("bad", PythonOPTemplate(ops.FailIfOdd), parameters={"x": 1}, continue_on_error=True))
        wf.add(Step("after", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        self.run(wf, expect="Failed")
        assert wf.query_step(name="after") == []

    def test_steps_by_generation_and_below_a_step(self) -> None:
        """``query_step(sort_by_generation=True)`` and ``wf.query().get_step(parent_id=...)`` as dpgen2's
        ``get_resubmit_keys`` calls them: children before grandchildren; only the steps below a step."""
        inner = Steps("inner")
        inner.inputs.parameters["n"] = InputParameter()
        a = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": inner.inputs.parameters["n"]}, key="in-a")
        inner.add(a)
        inner.add(Step("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]}, key="in-b"))
        wf = Workflow("generations")
        wf.add(Step("first", PythonOPTemplate(ops.AddOne), parameters={"n": 0}, key="first"))
        wf.add(Step("outer", inner, parameters={"n": 1}, key="outer"))
        self.run(wf)
        keys = [s.key for s in wf.query().get_step(sort_by_generation=True) if s.key]
        assert keys == ["first", "outer", "in-a", "in-b"], keys
        outer = self.one(wf, key="outer")
        below = wf.query().get_step(parent_id=outer.id, sort_by_generation=True)
        assert [s.key for s in below if s.key] == ["in-a", "in-b"], [s.key for s in below]
        assert all(s.key != "first" for s in wf.query_step(parent_id=outer.id))

