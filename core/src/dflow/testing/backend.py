"""The backend conformance suite: what every backend promises (DESIGN.md), as tests.

A backend's test module subclasses :class:`BackendConformance`, sets ``mode``
and, if needed, overrides the ``backend_env`` fixture::

    from dflow.testing.backend import BackendConformance

    class TestMyBackend(BackendConformance):
        __test__ = True
        mode = "mybackend"

Some promises can only be checked where the test process shares a filesystem with the
steps (counters, markers, process ids): those tests look at ``shares_filesystem`` and skip
with that reason otherwise. Tests of the local engine's own guarantees (resume after a
killed driver, atomic state files) are enabled by ``local_engine = True``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from dflow import (
    DAG,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    Step,
    Steps,
    Task,
    Workflow,
    argo_range,
    config,
    download_artifact,
    if_expression,
)
from dflow.errors import BackendError, WorkflowNotFoundError
from dflow.python import PythonOPTemplate, Slices

from . import ops
from .control import ControlChecks
from .dataflow import DataFlowChecks
from .exits import ExitChecks, HookChecks
from .functions import FunctionChecks
from .packages import PackageChecks
from .shapes import ShapeChecks

__all__ = ["BackendConformance"]


def _descendants(pid: int) -> set:
    """``pid`` and every process below it (Linux /proc)."""
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        for task in (Path(f"/proc/{p}/task").glob("*") if Path(f"/proc/{p}/task").exists() else []):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class BackendConformance(DataFlowChecks, ShapeChecks, PackageChecks, FunctionChecks, ControlChecks, ExitChecks,
                         HookChecks):
    """Subclass with ``__test__ = True`` and ``mode = "<backend>"``."""

    __test__ = False
    mode = "debug"
    shares_filesystem = True
    local_engine = False
    wait_timeout = 120.0

    @pytest.fixture(autouse=True)
    def backend_env(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setitem(config, "mode", self.mode)
        monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
        monkeypatch.setitem(config, "detach", False)
        self.tmp = tmp_path
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir()
        yield

    # ------------------------------------------------------------------ helpers

    def run(self, wf: Workflow, expect: str = "Succeeded") -> Workflow:
        wf.submit()
        phase = wf.wait(timeout=self.wait_timeout)
        assert phase == expect, f"workflow {wf.id} ended {phase}, expected {expect}: {wf.query().message}"
        return wf

    def subprocess_setup(self) -> str:
        """Python code that points a fresh process at the same backend (for the by-id test)."""
        return (f"from dflow import config\n"
                f"config['mode'] = {self.mode!r}\n"
                f"config['debug_workdir'] = {str(self.tmp)!r}\n")

    def need_fs(self) -> None:
        if not self.shares_filesystem:
            pytest.skip("needs a filesystem shared between the test and the steps")

    def one(self, wf: Workflow, **kw: Any) -> Any:
        steps = wf.query_step(**kw)
        assert len(steps) == 1, f"query_step({kw}) gave {steps}"
        return steps[0]

    # ------------------------------------------------------------------ data flow

    def test_chain_passes_parameters_and_artifacts(self) -> None:
        wf = Workflow("chain")
        w = Step("write", PythonOPTemplate(ops.WriteFile), parameters={"text": "a", "name": "a.txt"})
        prev = w.outputs.artifacts["out"]
        steps = [w]
        for i in range(3):
            s = Step(f"cat{i}", PythonOPTemplate(ops.Concat), parameters={"suffix": str(i)}, artifacts={"inp": prev})
            prev = s.outputs.artifacts["out"]
            steps.append(s)
        for s in steps:
            wf.add(s)
        self.run(wf)
        last = self.one(wf, name="cat2")
        assert last.outputs.parameters["text"].value == "a012"
        paths = download_artifact(last.outputs.artifacts["out"], path=self.tmp / "dl")
        assert [Path(p).read_text() for p in paths] == ["a012"]

    def test_parameter_types_round_trip(self) -> None:
        wf = Workflow("types")
        a = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 41})
        b = Step("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]})
        wf.add(a)
        wf.add(b)
        self.run(wf)
        v = self.one(wf, name="b").outputs.parameters["n"].value
        assert v == 43 and isinstance(v, int)

    def test_parallel_group_runs_concurrently(self) -> None:
        self.need_fs()
        wf = Workflow("parallel")
        markers = [str(self.scratch / f"m{i}") for i in range(2)]
        wf.add([Step(f"s{i}", PythonOPTemplate(ops.Sleep), parameters={"seconds": 1.0, "marker": m})
                for i, m in enumerate(markers)])
        self.run(wf)
        spans = []
        for m in markers:
            lines = Path(m).read_text().split()
            spans.append((float(lines[1]), float(lines[2])))
        # the two intervals overlap: each started before the other ended
        assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans

    def test_slices_fan_out_and_gather(self) -> None:
        wf = Workflow("slices")
        sq = Step("sq", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                  parameters={"x": [3, 1, 4, 1, 5]}, with_param=argo_range(5))
        total = Step("sum", PythonOPTemplate(ops.Sum), parameters={"values": sq.outputs.parameters["y"]})
        wf.add(sq)
        wf.add(total)
        self.run(wf)
        assert self.one(wf, name="sum").outputs.parameters["total"].value == 9 + 1 + 16 + 1 + 25
        assert len(wf.query_step(name="sq")) == 5

    def test_same_file_name_from_parallel_slices_is_kept(self) -> None:
        wf = Workflow("samename")
        w = Step("w", PythonOPTemplate(ops.SameNameWriter, slices=Slices(input_parameter=["x"], output_artifact=["out"])),
                 parameters={"x": [10, 11, 12, 13]}, with_param=argo_range(4))
        r = Step("r", PythonOPTemplate(ops.ReadAll), artifacts={"files": w.outputs.artifacts["out"]})
        wf.add(w)
        wf.add(r)
        self.run(wf)
        assert self.one(wf, name="r").outputs.parameters["texts"].value == ["10", "11", "12", "13"]

    def test_dag_dependencies_from_data_flow(self) -> None:
        dag = DAG("dag")
        a = Task("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
        b = Task("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]})
        c = Task("c", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]})
        d = Task("d", PythonOPTemplate(ops.AddOne), parameters={"n": c.outputs.parameters["n"]}, dependencies=[b])
        for t in (a, b, c, d):
            dag.add(t)
        wf = Workflow("dag", dag=dag)
        self.run(wf)
        got = {s.name: s for s in wf.query_step(type="Pod")}
        assert got["d"].outputs.parameters["n"].value == 4
        assert got["d"].record.started_at >= got["b"].record.finished_at

    def test_recursion_with_when(self) -> None:
        steps = Steps("loop", inputs=None)
        steps.inputs.parameters["n"] = InputParameter(value=0)
        steps.inputs.parameters["limit"] = InputParameter(value=4)
        steps.outputs.parameters["n"] = OutputParameter()
        inc = Step("inc", PythonOPTemplate(ops.AddOne), parameters={"n": steps.inputs.parameters["n"]},
                   key="inc-%s" % steps.inputs.parameters["n"])
        steps.add(inc)
        nxt = Step("next", steps, parameters={"n": inc.outputs.parameters["n"], "limit": steps.inputs.parameters["limit"]},
                   when="%s < %s" % (inc.outputs.parameters["n"], steps.inputs.parameters["limit"]))
        steps.add(nxt)
        steps.outputs.parameters["n"].value_from_parameter = inc.outputs.parameters["n"]
        wf = Workflow("recurse", steps=steps)
        self.run(wf)
        keys = sorted(s.key for s in wf.query_step(name="inc"))
        assert keys == ["inc-0", "inc-1", "inc-2", "inc-3"]
        assert len(wf.query_step(phase="Skipped")) == 1

    def test_conditional_output_parameter_and_artifact(self) -> None:
        steps = Steps("cond")
        a = Step("a", PythonOPTemplate(ops.WriteFile), parameters={"text": "A", "name": "a.txt"})
        b = Step("b", PythonOPTemplate(ops.WriteFile), parameters={"text": "B", "name": "b.txt"})
        n = Step("n", PythonOPTemplate(ops.AddOne), parameters={"n": 5})
        steps.add([a, b, n])
        steps.outputs.parameters["pick"] = OutputParameter(
            value_from_expression=if_expression(_if=n.outputs.parameters["n"] > 3, _then="big", _else="small"))
        steps.outputs.artifacts["file"] = OutputArtifact(
            from_expression=if_expression(_if=n.outputs.parameters["n"] > 3, _then=a.outputs.artifacts["out"],
                                          _else=b.outputs.artifacts["out"]))
        outer = Steps("outer")
        inner = Step("inner", steps)
        outer.add(inner)
        wf = Workflow("condout", steps=outer)
        self.run(wf)
        s = self.one(wf, name="inner")
        assert s.outputs.parameters["pick"].value == "big"
        paths = download_artifact(s.outputs.artifacts["file"], path=self.tmp / "dl")
        assert Path(paths[0]).read_text() == "A"

    def test_default_output_parameter_when_skipped(self) -> None:
        t = PythonOPTemplate(ops.AddOne)
        t.outputs.parameters["n"].default = 100
        wf = Workflow("default")
        s = Step("s", t, parameters={"n": 1}, when="1 > 2")
        after = Step("after", PythonOPTemplate(ops.AddOne), parameters={"n": s.outputs.parameters["n"]})
        wf.add(s)
        wf.add(after)
        self.run(wf)
        assert self.one(wf, name="after").outputs.parameters["n"].value == 101
        skipped = self.one(wf, name="s")
        assert skipped.phase == "Skipped" and skipped.outputs.parameters["n"].value == 100

    def test_outputs_of_steps_and_dags_keep_their_types(self) -> None:
        """An untyped output of a Steps/DAG template that hands on a step's output reads with that
        output's type (a fan-out's as the list of its items'), on every backend."""
        dag = DAG("d")
        dag.outputs.parameters["n"] = OutputParameter()
        a = Task("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
        dag.add(a)
        dag.outputs.parameters["n"].value_from_parameter = a.outputs.parameters["n"]
        fan = Steps("fan")
        fan.outputs.parameters["ys"] = OutputParameter()
        sq = Step("sq", PythonOPTemplate(ops.Square), parameters={"x": "{{item}}"}, with_param=[1, 2, 3])
        fan.add(sq)
        fan.outputs.parameters["ys"].value_from_parameter = sq.outputs.parameters["y"]
        wf = Workflow("typed-outputs")
        wf.add([Step("in-dag", dag), Step("in-fan", fan)])
        self.run(wf)
        assert self.one(wf, name="in-dag").outputs.parameters["n"].value == 2
        assert sorted(self.one(wf, name="in-fan").outputs.parameters["ys"].value) == [1, 4, 9]

    # ------------------------------------------------------------------ faults

    def test_timeout_ends_the_step_and_its_process(self) -> None:
        self.need_fs()
        marker = str(self.scratch / "sleep")
        wf = Workflow("timeout")
        wf.add(Step("slow", PythonOPTemplate(ops.Sleep), parameters={"seconds": 60, "marker": marker}, timeout=1))
        self.run(wf, expect="Failed")
        s = self.one(wf, name="slow")
        assert s.phase == "Failed" and "timed out" in (s.message or "")
        pid = int(Path(marker).read_text().split()[0])
        deadline = time.time() + 5
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"the step process {pid} outlived its timeout"

    def test_timeout_ends_the_whole_process_tree(self) -> None:
        self.need_fs()
        marker = str(self.scratch / "child")
        wf = Workflow("timeout-tree")
        wf.add(Step("spawn", PythonOPTemplate(ops.SpawnAndSleep), parameters={"marker": marker}, timeout=2))
        self.run(wf, expect="Failed")
        child = int(Path(marker).read_text())
        deadline = time.time() + 5
        while _alive(child) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(child), f"a process started by the step ({child}) outlived its timeout"

    def test_timeout_as_transient_error_is_retried(self) -> None:
        self.need_fs()
        marker = str(self.scratch / "sleep")
        t = PythonOPTemplate(ops.Sleep, timeout=1, retry_on_transient_error=1, timeout_as_transient_error=True)
        wf = Workflow("timeout-retry")
        wf.add(Step("slow", t, parameters={"seconds": 60, "marker": marker}))
        self.run(wf, expect="Failed")
        assert self.one(wf, name="slow").attempts == 2

    def test_transient_error_is_retried(self) -> None:
        self.need_fs()
        counter = str(self.scratch / "count")
        wf = Workflow("retry")
        wf.add(Step("flaky", PythonOPTemplate(ops.FlakyOP, retry_on_transient_error=3),
                    parameters={"counter": counter, "fail_times": 2}))
        self.run(wf)
        s = self.one(wf, name="flaky")
        assert s.outputs.parameters["attempts"].value == 3
        assert s.attempts == 3

    def test_retries_run_out(self) -> None:
        self.need_fs()
        counter = str(self.scratch / "count")
        wf = Workflow("retry-out")
        wf.add(Step("flaky", PythonOPTemplate(ops.FlakyOP, retry_on_transient_error=1),
                    parameters={"counter": counter, "fail_times": 5}))
        self.run(wf, expect="Failed")
        assert Path(counter).read_text() == "2"

    def test_fatal_error_is_not_retried(self) -> None:
        self.need_fs()
        counter = str(self.scratch / "count")
        wf = Workflow("fatal")
        wf.add(Step("bad", PythonOPTemplate(ops.FailFatal, retry_on_transient_error=3), parameters={"counter": counter}))
        self.run(wf, expect="Failed")
        assert Path(counter).read_text() == "1"
        s = self.one(wf, name="bad")
        assert "fails for good" in (s.message or "")

    def test_continue_on_failed(self) -> None:
        wf = Workflow("cont")
        bad = Step("bad", PythonOPTemplate(ops.FailIfOdd), parameters={"x": 1}, continue_on_failed=True)
        good = Step("good", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
        wf.add(bad)
        wf.add(good)
        self.run(wf)
        assert self.one(wf, name="bad").phase == "Failed"
        assert self.one(wf, name="good").phase == "Succeeded"

    def test_failure_stops_the_workflow(self) -> None:
        wf = Workflow("stop")
        wf.add(Step("bad", PythonOPTemplate(ops.FailIfOdd), parameters={"x": 1}))
        wf.add(Step("never", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        self.run(wf, expect="Failed")
        assert wf.query_step(name="never") == []

    @pytest.mark.parametrize("kw,expect", [
        ({"continue_on_num_success": 3}, "Succeeded"),
        ({"continue_on_num_success": 5}, "Failed"),
        ({"continue_on_success_ratio": 0.5}, "Succeeded"),
        ({"continue_on_success_ratio": 0.9}, "Failed"),
    ])
    def test_continue_on_success_number_and_ratio(self, kw: Any, expect: str) -> None:
        wf = Workflow("ratio")
        t = PythonOPTemplate(ops.FailIfOdd, slices=Slices(input_parameter=["x"], output_parameter=["y"]))
        wf.add(Step("fan", t, parameters={"x": [0, 1, 2, 4, 5, 6]}, with_param=argo_range(6), **kw))
        self.run(wf, expect=expect)
        assert len(wf.query_step(name="fan", phase="Succeeded")) == 4

    def test_crashing_step_fails_cleanly(self) -> None:
        wf = Workflow("crash")
        wf.add([Step("exit", PythonOPTemplate(ops.Crash), parameters={"how": "exit"}, continue_on_failed=True),
                Step("segv", PythonOPTemplate(ops.Crash), parameters={"how": "segfault"}, continue_on_failed=True)])
        wf.add(Step("after", PythonOPTemplate(ops.AddOne), parameters={"n": 0}))
        self.run(wf)
        assert self.one(wf, name="exit").phase == "Failed"
        assert self.one(wf, name="segv").phase == "Failed"
        assert self.one(wf, name="after").outputs.parameters["n"].value == 1

    # ------------------------------------------------------------------ control and queries

    def test_query_step_filters(self) -> None:
        wf = Workflow("query")
        wf.add([Step("alpha-1", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, key="k-alpha"),
                Step("alpha-2", PythonOPTemplate(ops.AddOne), parameters={"n": 2}),
                Step("beta", PythonOPTemplate(ops.FailIfOdd), parameters={"x": 1}, continue_on_failed=True)])
        self.run(wf)
        assert {s.name for s in wf.query_step(name="alpha-.*")} == {"alpha-1", "alpha-2"}
        assert [s.name for s in wf.query_step(key="k-alpha")] == ["alpha-1"]
        assert [s.name for s in wf.query_step(phase="Failed")] == ["beta"]
        first = wf.query_step(name="alpha-1")[0]
        assert [s.name for s in wf.query_step(id=first.id)] == ["alpha-1"]
        assert {s.name for s in wf.query_step(type="Pod")} == {"alpha-1", "alpha-2", "beta"}

    def test_workflow_by_id_from_another_process(self) -> None:
        wf = Workflow("byid")
        wf.add(Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        self.run(wf)
        code = self.subprocess_setup() + textwrap.dedent(f"""
            from dflow import Workflow
            wf = Workflow(id={wf.id!r})
            s = wf.query_step(name="a")[0]
            print(wf.query_status(), s.outputs.parameters["n"].value)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=self.tmp)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["Succeeded", "2"]

    def test_workflow_by_id_is_looked_up_when_needed(self) -> None:
        from dflow.errors import WorkflowNotFoundError

        wf = Workflow(id="no-such-workflow-x1y2z")  # as in dflow: nothing is looked up yet
        with pytest.raises(WorkflowNotFoundError):
            wf.query_status()

    def test_global_outputs(self) -> None:
        t = PythonOPTemplate(ops.AddOne, output_parameter_global_name={"n": "total"})
        wf = Workflow("globals")
        wf.add(Step("a", t, parameters={"n": 41}))
        self.run(wf)
        outs = Workflow(id=wf.id).query_global_outputs()
        assert outs.parameters["total"].value == 42

    def test_suspend_holds_new_steps_until_resumed(self) -> None:
        self.need_fs()
        log = str(self.scratch / "log")
        wf = Workflow("suspend")
        wf.add(Step("first", PythonOPTemplate(ops.Sleep), parameters={"seconds": 1.0, "marker": str(self.scratch / "m")}))
        wf.add(Step("second", PythonOPTemplate(ops.Record), parameters={"log": log, "tag": "second"}))
        config["detach"] = True
        try:
            wf.submit()
        finally:
            config["detach"] = False
        deadline = time.monotonic() + 60
        while not (self.scratch / "m").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        wf.suspend()
        time.sleep(3.0)  # first has ended; second must not start while suspended
        assert not os.path.exists(log), "a step started while the workflow was suspended"
        assert wf.query_status() == "Running"
        wf.resume()
        assert wf.wait(timeout=self.wait_timeout) == "Succeeded"
        assert Path(log).read_text() == "second\n"

    def test_progress_is_visible_while_running(self) -> None:
        self.need_fs()
        gate = self.scratch / "gate"
        wf = Workflow("progress")
        wf.add(Step("p", PythonOPTemplate(ops.ProgressOP), parameters={"gate": str(gate)}))
        wf.submit(detach=True)
        seen = None
        deadline = time.time() + 30
        while time.time() < deadline:
            steps = wf.query_step(name="p")
            if steps and steps[0].phase == "Running" and steps[0].progress == "3/4":
                seen = steps[0].progress
                break
            time.sleep(0.05)
        gate.write_text("go")
        assert wf.wait(timeout=self.wait_timeout) == "Succeeded"
        assert seen == "3/4"
        assert self.one(wf, name="p").progress == "4/4"

    def test_detached_run_and_terminate(self) -> None:
        self.need_fs()
        marker = str(self.scratch / "sleep")
        wf = Workflow("term")
        wf.add(Step("slow", PythonOPTemplate(ops.Sleep), parameters={"seconds": 120, "marker": marker}))
        wf.add(Step("never", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        ops.submit_until_started(wf, marker, timeout=30)
        pid = int(Path(marker).read_text().split()[0])
        assert wf.query_status() == "Running"
        run_processes = {pid}
        if self.local_engine:
            driver = json.loads((self.tmp / wf.id / "workflow.json").read_text())["driver_pid"]
            run_processes |= _descendants(driver)
            assert len(run_processes) >= 3, run_processes  # driver, fork server, a worker
        t0 = time.time()
        wf.terminate()
        assert wf.wait(timeout=30) == "Failed"
        assert time.time() - t0 < 15
        deadline = time.time() + 5
        while any(_alive(p) for p in run_processes) and time.time() < deadline:
            time.sleep(0.05)
        assert not [p for p in run_processes if _alive(p)], "processes of the run outlived terminate()"
        assert wf.query_step(name="never") == []

    def test_terminating_an_ended_run_is_refused_in_argos_words(self) -> None:
        """Argo refuses to terminate or stop a run that has ended ("cannot shutdown a completed
        workflow"), and code written for a cluster (APEX's) looks for those words; the run keeps
        its phase, and deleting it still works."""
        wf = Workflow("ended")
        wf.add(Step("one", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        wf.submit()
        assert wf.wait(timeout=self.wait_timeout) == "Succeeded"
        for action in (wf.terminate, wf.stop):
            with pytest.raises(BackendError, match="cannot shutdown a completed workflow"):
                action()
        assert wf.query_status() == "Succeeded"
        wf.delete()  # (deleting it is not terminating it)
        with pytest.raises(WorkflowNotFoundError):
            Workflow(id=wf.id).query_status()

    def test_reuse_step_skips_finished_work(self) -> None:
        self.need_fs()
        log = str(self.scratch / "ran")

        def build() -> Workflow:
            wf = Workflow("reuse")
            a = Step("a", PythonOPTemplate(ops.Record), parameters={"log": log, "tag": "A"}, key="step-a")
            b = Step("b", PythonOPTemplate(ops.Record), parameters={"log": log, "tag": a.outputs.parameters["tag"]},
                     key="step-b")
            wf.add(a)
            wf.add(b)
            return wf

        first = self.run(build())
        reused = first.query_step(key="step-a")
        reused[0].modify_output_parameter("tag", "Z")
        second = build()
        second.submit(reuse_step=reused)
        assert second.wait(timeout=self.wait_timeout) == "Succeeded"
        assert Path(log).read_text().split() == ["A", "A", "Z"]
        assert second.query_step(key="step-b")[0].outputs.parameters["tag"].value == "Z"

    # ------------------------------------------------------------------ local engine guarantees

    def test_resume_after_killed_driver(self) -> None:
        if not self.local_engine:
            pytest.skip("resuming a killed driver is a local-engine guarantee")
        log = self.scratch / "ran"
        gate = self.scratch / "gate"
        script = self.tmp / "resume_wf.py"
        script.write_text(textwrap.dedent(f"""
            from dflow import Workflow, Step, config
            from dflow.python import PythonOPTemplate
            from dflow.testing import ops
            config["mode"] = {self.mode!r}
            config["debug_workdir"] = {str(self.tmp)!r}
            wf = Workflow("resume")
            wf.add(Step("a", PythonOPTemplate(ops.Record), parameters={{"log": {str(log)!r}, "tag": "a"}}))
            wf.add(Step("wait", PythonOPTemplate(ops.ProgressOP), parameters={{"gate": {str(gate)!r}}}))
            wf.add(Step("b", PythonOPTemplate(ops.Record), parameters={{"log": {str(log)!r}, "tag": "b"}}))
            wf.submit(detach=True)
            print(wf.id, flush=True)
        """))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=self.tmp)
        assert out.returncode == 0, out.stderr
        wf_id = out.stdout.split()[0]
        wf = Workflow(id=wf_id)
        deadline = time.time() + 30
        while time.time() < deadline and not wf.query_step(name="wait", phase="Running"):
            time.sleep(0.05)
        rec = json.loads((self.tmp / wf_id / "workflow.json").read_text())
        os.kill(rec["driver_pid"], signal.SIGKILL)
        time.sleep(0.2)
        assert wf.query_status() == "Error"
        gate.write_text("go")
        wf.resume()
        assert wf.wait(timeout=self.wait_timeout) == "Succeeded"
        assert log.read_text().split() == ["a", "b"], "step a ran again after the resume"

    def test_state_files_are_never_torn(self) -> None:
        if not self.local_engine:
            pytest.skip("the on-disk state is a local-engine guarantee")
        wf = Workflow("atomic")
        wf.add(Step("fan", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                    parameters={"x": list(range(60))}, with_param=argo_range(60)))
        wf.submit(detach=True)
        wfdir = self.tmp / wf.id
        reads = 0
        while wf.query_status() in ("Pending", "Running"):
            json.loads((wfdir / "workflow.json").read_text())
            assert (wfdir / "status").read_text() in ("Pending", "Running", "Succeeded", "Failed", "Error")
            steps = wf.query_step()
            for s in steps:
                assert s.phase in ("Pending", "Running", "Succeeded", "Failed", "Skipped")
            reads += 1
        assert wf.wait() == "Succeeded"
        assert reads > 0
        assert len(wf.query_step(name="fan")) == 60

    def test_bad_input_is_refused_before_anything_runs(self) -> None:
        from dflow.errors import ValidationError

        wf = Workflow("bad")
        a = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
        b = Step("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]})
        wf.add([a, b])  # b uses a's output in the same parallel group
        before = set(os.listdir(self.tmp))
        with pytest.raises(ValidationError, match="same group or later"):
            wf.submit()
        assert set(os.listdir(self.tmp)) == before
