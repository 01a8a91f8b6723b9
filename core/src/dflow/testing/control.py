"""Step-control promises of the backend conformance suite: retries, continue flags, queries by generation,
reuse of steps whose keys are rendered at run time, a Python OP's pre_script and post_script.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them). Each
was found by running the same probe on the local backend and on Argo: dflow's behaviour there.
"""

from __future__ import annotations

from pathlib import Path

from dflow import InputParameter, OutputArtifact, OutputParameter, Step, Steps, Workflow, argo_range
from dflow.python import PythonOPTemplate, Slices

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


    def test_reuse_of_steps_whose_keys_are_rendered_at_run_time(self) -> None:
        """dpgen2's restart: keys made of a template's inputs and of a loop's items (``round-{{inputs.parameters.i}}-rec``,
        ``sq-{{item}}``). A run with ``reuse_step`` takes the recorded outputs (modified ones included) of
        the steps whose key renders to a reused one, and runs the others again."""
        self.need_fs()  # type: ignore[attr-defined]
        log = str(self.scratch / "ran")  # type: ignore[attr-defined]

        def build() -> Workflow:
            body = Steps("round")
            body.inputs.parameters["i"] = InputParameter()
            rec = Step("rec", PythonOPTemplate(ops.Record), parameters={"log": log, "tag": body.inputs.parameters["i"]},
                       key="round-{{inputs.parameters.i}}-rec")
            body.add(rec)
            write = Step("write", PythonOPTemplate(ops.WriteFile),
                         parameters={"text": rec.outputs.parameters["tag"], "name": "f.txt"},
                         key="round-{{inputs.parameters.i}}-write")
            body.add(write)
            body.outputs.parameters["tag"] = OutputParameter(value_from_parameter=rec.outputs.parameters["tag"])
            body.outputs.artifacts["f"] = OutputArtifact(_from=write.outputs.artifacts["out"])
            wf = Workflow("reuse-rendered")
            r0, r1 = Step("r0", body, parameters={"i": "0"}), Step("r1", body, parameters={"i": "1"})
            sq = Step("sq", PythonOPTemplate(ops.Square), parameters={"x": "{{item}}"}, with_param=[2, 3], key="sq-{{item}}")
            # slices gathering an artifact: a reused slice's part joins the new run's parts
            wr = Step("wr", PythonOPTemplate(ops.WriteFile, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
                      parameters={"text": ["a", "b"], "name": "f.txt"}, with_param=argo_range(2), key="wr-{{item}}")
            wf.add([r0, r1, sq, wr])
            wf.add(Step("cat", PythonOPTemplate(ops.Concat), artifacts={"inp": r0.outputs.artifacts["f"]},
                        parameters={"suffix": r1.outputs.parameters["tag"]}))
            wf.add(Step("sum", PythonOPTemplate(ops.Sum), parameters={"values": sq.outputs.parameters["y"]}))
            wf.add(Step("read", PythonOPTemplate(ops.ReadAll), artifacts={"files": wr.outputs.artifacts["out"]}))
            return wf

        first = self.run(build())  # type: ignore[attr-defined]
        assert self.one(first, name="cat").outputs.parameters["text"].value == "01"  # type: ignore[attr-defined]
        assert self.one(first, name="sum").outputs.parameters["total"].value == 13  # type: ignore[attr-defined]
        by_key = {s.key: s for s in first.query_step() if s.key}
        assert {"round-0-rec", "round-0-write", "round-1-rec", "round-1-write", "sq-2", "sq-3", "wr-1"} <= set(by_key)
        by_key["round-0-rec"].modify_output_parameter("tag", "Z")
        by_key["sq-3"].modify_output_parameter("y", 100)
        second = build()
        second.submit(reuse_step=[by_key[k] for k in ("round-0-rec", "round-1-write", "sq-3", "wr-1")])
        assert second.wait(timeout=self.wait_timeout) == "Succeeded"  # type: ignore[attr-defined]
        # round 0 wrote the modified tag again; round 1 handed back its recorded file ("1") and recorded again
        assert self.one(second, name="cat").outputs.parameters["text"].value == "Z1"  # type: ignore[attr-defined]
        assert self.one(second, name="sum").outputs.parameters["total"].value == 104  # type: ignore[attr-defined]
        assert sorted(Path(log).read_text().split()) == ["0", "1", "1"]  # (rounds 0 and 1 run side by side)
        reused = second.query_step(key="round-0-rec")
        assert len(reused) == 1 and reused[0].phase == "Succeeded", reused
        assert reused[0].outputs.parameters["tag"].value == "Z"
        assert [s.outputs.parameters["y"].value for s in second.query_step(key="sq-3")] == [100]
        assert [s.outputs.parameters["y"].value for s in second.query_step(key="sq-2")] == [4]
        assert self.one(second, name="read").outputs.parameters["texts"].value == ["a", "b"]  # type: ignore[attr-defined]

    def test_a_workflow_made_from_its_rendered_manifest_runs_the_same(self) -> None:
        """As dflow's ``Workflow.from_yaml(text).submit()`` (its ``dflow submit FILE``): a manifest this project
        rendered carries the workflow's spec, so the workflow it makes runs, on any backend, as the original."""
        inner = Steps("twice")
        inner.inputs.parameters["n"] = InputParameter()
        a = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": inner.inputs.parameters["n"]})
        inner.add(a)
        inner.add(Step("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]}, key="b-key"))
        built = Workflow("from-manifest")
        built.add(Step("outer", inner, parameters={"n": 40}))
        again = Workflow.from_yaml(built.to_yaml())
        assert again.name == "from-manifest" and again.id is None
        self.run(again)
        assert self.one(again, key="b-key").outputs.parameters["n"].value == 42

    def test_pre_script_and_post_script_run_around_the_op(self) -> None:
        """The original's ``PythonOPTemplate(pre_script=..., post_script=...)``: Python run before the OP (here
        it sets a variable the OP reads) and after it succeeded (here it fails the step: it did run)."""
        pre = "import os\nos.environ['DFLOW_PRE'] = 'set in {tmp_root}'\n"
        wf = Workflow("pre-post")
        wf.add([Step("pre", PythonOPTemplate(ops.EnvOf, pre_script=pre), parameters={"name": "DFLOW_PRE"}),
                Step("post", PythonOPTemplate(ops.EnvOf, post_script="raise SystemExit(7)\n"),
                     parameters={"name": "HOME"}, continue_on_failed=True)])
        self.run(wf)
        assert self.one(wf, name="pre").outputs.parameters["value"].value == "set in /tmp"  # type: ignore[attr-defined]
        assert self.one(wf, name="post").phase == "Failed"  # type: ignore[attr-defined]
