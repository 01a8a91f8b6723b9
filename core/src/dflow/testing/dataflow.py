"""Data-flow promises of the backend conformance suite that a cluster once broke.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them).
Each was found by running the original dflow's examples on the Argo backend: a local
run gave the answer, a cluster run did not.
"""

from __future__ import annotations

from pathlib import Path

import dflow
from dflow.python import PythonOPTemplate, Slices

from . import ops

__all__ = ["DataFlowChecks"]


class DataFlowChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``, ``tmp``)."""

    def test_objects_pass_through_a_steps_template(self) -> None:
        """A value JSON cannot hold (pickled) given to a Steps template, handed from pod to pod, and queried."""
        inner = dflow.Steps("boxes")
        inner.inputs.parameters["box"] = dflow.InputParameter()
        inner.outputs.parameters["box"] = dflow.OutputParameter()
        first = dflow.Step("first", PythonOPTemplate(ops.DoubleBox), parameters={"box": inner.inputs.parameters["box"]})
        second = dflow.Step("second", PythonOPTemplate(ops.DoubleBox), parameters={"box": first.outputs.parameters["box"]})
        inner.add(first)
        inner.add(second)
        inner.outputs.parameters["box"].value_from_parameter = second.outputs.parameters["box"]
        wf = dflow.Workflow("boxes")
        wf.add(dflow.Step("outer", inner, parameters={"box": ops.Box("hi")}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="first").outputs.parameters["box"].value.msg == "hihi"  # type: ignore[attr-defined]
        assert self.one(wf, name="second").outputs.parameters["box"].value.msg == "hi" * 4  # type: ignore[attr-defined]

    def test_a_dict_holding_objects_and_an_untyped_input_pass_through_a_steps_template(self) -> None:
        """dpgen2's configs: a dict holding objects reaches a ``dict`` sign whole; a template's untyped output
        that hands on its untyped input queries as what the caller gave (a dict)."""
        inner = dflow.Steps("configs")
        inner.inputs.parameters["boxes"] = dflow.InputParameter()
        inner.inputs.parameters["conf"] = dflow.InputParameter()
        inner.outputs.parameters["conf"] = dflow.OutputParameter()
        inner.outputs.parameters["conf"].value_from_parameter = inner.inputs.parameters["conf"]
        inner.add(dflow.Step("msgs", PythonOPTemplate(ops.BoxMessages), parameters={"boxes": inner.inputs.parameters["boxes"]}))
        wf = dflow.Workflow("configs")
        wf.add(dflow.Step("outer", inner, parameters={"boxes": {"b": ops.Box("two"), "a": ops.Box("one")},
                                                      "conf": {"seed": 1, "data": []}}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="msgs").outputs.parameters["msgs"].value == ["one", "two"]  # type: ignore[attr-defined]
        assert self.one(wf, name="outer").outputs.parameters["conf"].value == {"seed": 1, "data": []}  # type: ignore[attr-defined]

    def test_an_optional_artifact_not_given_passes_on_as_none(self) -> None:
        """A Steps template's optional input artifact that its caller does not give: the step inside that
        takes it (optional there too) runs without it."""
        inner = dflow.Steps("maybe")
        inner.inputs.artifacts["f"] = dflow.InputArtifact(optional=True)
        inner.add(dflow.Step("has", PythonOPTemplate(ops.HasFile), artifacts={"f": inner.inputs.artifacts["f"]}))
        wf = dflow.Workflow("maybe")
        wf.add(dflow.Step("outer", inner, artifacts={"f": None}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="has").outputs.parameters["given"].value is False  # type: ignore[attr-defined]

    def test_slices_given_as_an_expression_gather_in_order(self) -> None:
        """``Slices("int('{{item}}')")`` over a formatted sequence (dpgen2's form): the gathered artifact holds
        every slice's file, in slice order."""
        w = dflow.Step("w", PythonOPTemplate(ops.SameNameWriter, slices=Slices("int('{{item}}')", input_parameter=["x"],
                                                                                output_artifact=["out"])),
                       parameters={"x": [5, 6, 7]}, with_sequence=dflow.argo_sequence(3, format="%04d"))
        r = dflow.Step("r", PythonOPTemplate(ops.ReadAll), artifacts={"files": w.outputs.artifacts["out"]})
        wf = dflow.Workflow("expr-slices")
        wf.add(w)
        wf.add(r)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="r").outputs.parameters["texts"].value == ["5", "6", "7"]  # type: ignore[attr-defined]

    def test_a_sliced_steps_template_takes_the_item_as_the_slice_index(self) -> None:
        """Slices on a Steps template (a super-OP) with a loop of its own: the item, or the ``Slices``
        expression with the item filled in, is the slice index, as in dflow and as for a sliced Python OP;
        not the instance's position in the loop. Gathered in the loop's order."""
        inner = dflow.Steps("square-inner")
        inner.inputs.parameters["x"] = dflow.InputParameter()
        sq = dflow.Step("sq", PythonOPTemplate(ops.Square), parameters={"x": inner.inputs.parameters["x"]})
        inner.add(sq)
        inner.outputs.parameters["y"] = dflow.OutputParameter(value_from_parameter=sq.outputs.parameters["y"])
        sl = {"input_parameter": ["x"], "output_parameter": ["y"]}
        xs = [3, 4, 5]
        fans = [
            dflow.Step("pod", PythonOPTemplate(ops.Square, slices=Slices(**sl)), parameters={"x": xs}, with_param=[2, 0]),
            dflow.Step("super", inner, slices=Slices(**sl), parameters={"x": xs}, with_param=[2, 0]),
            dflow.Step("super-expr", inner, slices=Slices("int('{{item}}') - 1", **sl), parameters={"x": xs},
                       with_sequence=dflow.argo_sequence(2, start=2, format="%03d")),
        ]
        wf = dflow.Workflow("item-index")
        wf.add(fans)
        wf.add([dflow.Step(f"{f.name}-seen", PythonOPTemplate(ops.Same), parameters={"values": f.outputs.parameters["y"]})
                for f in fans])
        self.run(wf)  # type: ignore[attr-defined]
        seen = {f.name: self.one(wf, name=f"{f.name}-seen").outputs.parameters["values"].value  # type: ignore[attr-defined]
                for f in fans}
        assert seen == {"pod": [25, 9], "super": [25, 9], "super-expr": [16, 25]}, seen

    def test_values_computed_when_the_workflow_runs_are_written_as_argo_writes_them(self) -> None:
        """An arithmetic output expression of a whole number is ``6``, not ``6.0`` (a step taking an ``int``
        gets one), and ``{{item}}`` of a JSON item is compact JSON (``[1,2]``, ``1`` for ``1.0``), as on Argo."""
        inner = dflow.Steps("plus-one")
        n = dflow.Step("n", PythonOPTemplate(ops.AddOne), parameters={"n": 4})
        inner.add(n)
        inner.outputs.parameters["plus1"] = dflow.OutputParameter(value_from_expression=n.outputs.parameters["n"] + 1)
        outer = dflow.Step("outer", inner)
        use = dflow.Step("use", PythonOPTemplate(ops.AddOne), parameters={"n": outer.outputs.parameters["plus1"]})
        items = dflow.Step("items", PythonOPTemplate(ops.Echo), parameters={"v": "{{item}}"},
                           with_param=[[1, 2], {"a": "b c"}, 1.0, "x"])
        seen = dflow.Step("seen", PythonOPTemplate(ops.Same), parameters={"values": items.outputs.parameters["v"]})
        wf = dflow.Workflow("argo-text")
        wf.add([outer, items])
        wf.add([use, seen])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="use").outputs.parameters["n"].value == 7  # type: ignore[attr-defined]
        assert self.one(wf, name="seen").outputs.parameters["values"].value == [  # type: ignore[attr-defined]
            "[1,2]", '{"a":"b c"}', "1", "x"]

    def test_a_dag_task_runs_when_a_condition_built_from_outputs_holds(self) -> None:
        """``Task(when=<output> > 4)`` and ``when=<a bool output>``: condition objects, as dflow takes them on a
        DAG task as on a step."""
        dag = dflow.DAG("conds")
        n = dflow.Task("n", PythonOPTemplate(ops.AddOne), parameters={"n": 4})
        big = dflow.Task("big", PythonOPTemplate(ops.AddOne), parameters={"n": 0}, when=n.outputs.parameters["n"] > 4)
        small = dflow.Task("small", PythonOPTemplate(ops.AddOne), parameters={"n": 0}, when=n.outputs.parameters["n"] < 4)
        dag.add([n, big, small])
        wf = dflow.Workflow("dag-when", dag=dag)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="big").phase == "Succeeded"  # type: ignore[attr-defined]
        assert self.one(wf, name="small").phase == "Skipped"  # type: ignore[attr-defined]

    def test_argo_enumerate_names_the_items_as_dflow_does(self) -> None:
        """``argo_enumerate(a)`` items are ``{"order", "value"}``; ``argo_enumerate(a, b)`` items
        ``{"order", "value0", "value1"}``."""
        one = dflow.Step("one", PythonOPTemplate(ops.AddOne), parameters={"n": "{{item.value}}"},
                         with_param=dflow.argo_enumerate([10, 20]))
        two = dflow.Step("two", PythonOPTemplate(ops.Echo), parameters={"v": "{{item.order}}:{{item.value0}}{{item.value1}}"},
                         with_param=dflow.argo_enumerate(["a", "b"], ["x", "y"]))
        wf = dflow.Workflow("enumerate")
        wf.add([one, two])
        wf.add([dflow.Step(f"{s.name}-seen", PythonOPTemplate(ops.Same), parameters={"values": s.outputs.parameters[p]})
                for s, p in ((one, "n"), (two, "v"))])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="one-seen").outputs.parameters["values"].value == [11, 21]  # type: ignore[attr-defined]
        assert self.one(wf, name="two-seen").outputs.parameters["values"].value == ["0:ax", "1:by"]  # type: ignore[attr-defined]

    def test_a_file_of_an_input_artifact_handed_on_keeps_its_path_inside_the_artifact(self) -> None:
        """An OP that returns (a file of) its input artifact as an output: the output holds the file at its
        path inside the input artifact (``data/b.txt``), as in dflow; not at the step's own directories."""
        data = self.tmp / "data"  # type: ignore[attr-defined]
        data.mkdir()
        (data / "b.txt").write_text("B")
        up = dflow.upload_artifact("data/b.txt")  # (the test runs in self.tmp)
        first = dflow.Step("first", PythonOPTemplate(ops.PassOnInput), artifacts={"p": up})
        second = dflow.Step("second", PythonOPTemplate(ops.PassOnInput), artifacts={"p": first.outputs.artifacts["out"]})
        wf = dflow.Workflow("hand-on")
        wf.add(first)
        wf.add(second)
        self.run(wf)  # type: ignore[attr-defined]
        for name in ("first", "second"):
            got = dflow.download_artifact(self.one(wf, name=name).outputs.artifacts["out"],  # type: ignore[attr-defined]
                                          path=self.tmp / f"dl-{name}")  # type: ignore[attr-defined]
            rel = sorted(str(Path(p).relative_to(self.tmp / f"dl-{name}")) for p in got)  # type: ignore[attr-defined]
            assert rel == ["data/b.txt"], (name, rel)

    def test_a_nested_dict_artifact_holding_a_list_reaches_the_next_step_in_its_shape(self) -> None:
        """A ``NestedDict[Path]`` output whose values include a list of paths (dflow flattens it): the next step
        gets the same shape, the list included; an upload of nested lists and dicts works too."""
        (self.tmp / "u.txt").write_text("u")  # type: ignore[attr-defined]
        (self.tmp / "v.txt").write_text("v")  # type: ignore[attr-defined]
        up = dflow.upload_artifact({"files": ["u.txt", "v.txt"], "one": {"x": "u.txt"}})
        made = dflow.Step("made", PythonOPTemplate(ops.NestedLists), parameters={"names": ["a", "b"]})
        wf = dflow.Workflow("nested-lists")
        wf.add(made)
        wf.add([dflow.Step("read", PythonOPTemplate(ops.TreeTexts), artifacts={"tree": made.outputs.artifacts["tree"]}),
                dflow.Step("read-up", PythonOPTemplate(ops.TreeTexts), artifacts={"tree": up})])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="read").outputs.parameters["texts"].value == {  # type: ignore[attr-defined]
            "files": ["a", "b"], "one": {"x": "x"}}
        assert self.one(wf, name="read-up").outputs.parameters["texts"].value == {  # type: ignore[attr-defined]
            "files": ["u", "v"], "one": {"x": "u"}}

    def test_an_output_artifact_returned_as_none_exists_and_reads_as_none(self) -> None:
        """An optional output artifact returned as ``None``, and ``None`` items of a list artifact: as in dflow
        the artifact exists (``query_step`` shows it) and the next step gets ``None`` in their place."""
        made = dflow.Step("made", PythonOPTemplate(ops.SomeFiles), parameters={"names": ["a", "", "c"]})
        wf = dflow.Workflow("none-outputs")
        wf.add(made)
        wf.add([dflow.Step("has", PythonOPTemplate(ops.HasFile), artifacts={"f": made.outputs.artifacts["nothing"]}),
                dflow.Step("names", PythonOPTemplate(ops.NamesOrNone), artifacts={"files": made.outputs.artifacts["files"]})])
        self.run(wf)  # type: ignore[attr-defined]
        assert "nothing" in self.one(wf, name="made").outputs.artifacts  # type: ignore[attr-defined]
        assert self.one(wf, name="has").outputs.parameters["given"].value is False  # type: ignore[attr-defined]
        assert self.one(wf, name="names").outputs.parameters["names"].value == ["a.txt", None, "c.txt"]  # type: ignore[attr-defined]

    def test_a_pod_of_grouped_slices_queries_its_sliced_text_output_as_a_list(self) -> None:
        """With ``group_size``, a pod's sliced output (typed ``str``) is the list of its slices' values."""
        g = dflow.Step("g", PythonOPTemplate(ops.Echo, slices=Slices(input_parameter=["v"], output_parameter=["v"],
                                                                      group_size=2)),
                       parameters={"v": ["a", "b", "c"]}, with_param=dflow.argo_range(3))
        wf = dflow.Workflow("grouped-text")
        wf.add(g)
        self.run(wf)  # type: ignore[attr-defined]
        pods = wf.query_step(name="g", type="Pod")
        assert sorted(p.outputs.parameters["v"].value for p in pods) == [["a", "b"], ["c"]]
        assert self.one(wf, name="g", type="StepGroup").outputs.parameters["v"].value == ["a", "b", "c"]  # type: ignore[attr-defined]

    def test_a_condition_on_the_item_keeps_or_skips_each_item_of_a_loop(self) -> None:
        """``when="{{item}} > 1"`` on a looping step: each item is kept or skipped on its own, as Argo evaluates
        ``when`` after it expands the loop."""
        s = dflow.Step("s", PythonOPTemplate(ops.AddOne), parameters={"n": "{{item}}"}, with_param=[1, 2, 3],
                       when="{{item}} > 1")
        wf = dflow.Workflow("when-item")
        wf.add(s)
        wf.add(dflow.Step("seen", PythonOPTemplate(ops.Same), parameters={"values": s.outputs.parameters["n"]}))
        self.run(wf)  # type: ignore[attr-defined]
        assert sorted(x.phase for x in wf.query_step(name="s")) == ["Skipped", "Succeeded", "Succeeded"]
        assert self.one(wf, name="seen").outputs.parameters["values"].value == [3, 4]  # type: ignore[attr-defined]

    def test_text_that_reads_as_json_reaches_an_any_sign_decoded_as_on_a_cluster(self) -> None:
        """A cluster carries a parameter's text alone and reads it as JSON for any sign but ``str``: so a ``str``
        value ``"1e3"`` reaches an ``Any`` sign as 1000.0 and ``"true"`` as True on every backend; text stays text."""
        s = dflow.Step("t", PythonOPTemplate(ops.TypeOf), parameters={"v": "{{item}}"},
                       with_param=["1e3", "true", "[1]", "abc"])
        wf = dflow.Workflow("any-sign")
        wf.add(s)
        wf.add(dflow.Step("seen", PythonOPTemplate(ops.Same), parameters={"values": s.outputs.parameters["type"]}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="seen").outputs.parameters["values"].value == [  # type: ignore[attr-defined]
            "float", "bool", "list", "str"]

    def test_download_artifact_of_one_slice(self) -> None:
        """``download_artifact(art, slice=N)`` downloads item N alone and returns its path, as in dflow: of a
        gathered fan-out output (slices that wrote the same file name) and of a list upload."""
        w = dflow.Step("w", PythonOPTemplate(ops.SameNameWriter, slices=Slices(input_parameter=["x"],
                                                                                output_artifact=["out"])),
                       parameters={"x": [5, 6, 7]}, with_param=dflow.argo_range(3))
        wf = dflow.Workflow("one-slice")
        wf.add(w)
        self.run(wf)  # type: ignore[attr-defined]
        out = self.one(wf, name="w", type="StepGroup").outputs.artifacts["out"]  # type: ignore[attr-defined]
        got = dflow.download_artifact(out, slice=2, path=self.tmp / "s2")  # type: ignore[attr-defined]
        assert Path(got).read_text() == "7"
        assert [p.name for p in (self.tmp / "s2").rglob("*") if p.is_file()] == ["result.txt"]  # type: ignore[attr-defined]
        (self.tmp / "u.txt").write_text("u")  # type: ignore[attr-defined]
        (self.tmp / "v.txt").write_text("v")  # type: ignore[attr-defined]
        up = dflow.upload_artifact(["u.txt", "v.txt"])
        assert Path(dflow.download_artifact(up, slice=1, path=self.tmp / "u1")).read_text() == "v"  # type: ignore[attr-defined]
        # a dict upload downloads as its paths by key (nested keys nest), as in dflow
        named = dflow.upload_artifact({"a": "u.txt", "b": {"c": ["v.txt"]}})
        got = dflow.download_artifact(named, path=self.tmp / "named")  # type: ignore[attr-defined]
        assert Path(got["a"]).read_text() == "u" and Path(got["b"]["c"][0]).read_text() == "v", got

    def test_a_default_of_none_reaches_the_op(self) -> None:
        """``def f(a: Optional[int] = None)`` and ``Parameter(T, default=None)``: a step that gives no value runs with
        ``None`` (as in dflow), not "has no value"."""
        wf = dflow.Workflow("none-default")
        wf.add(dflow.Step("d", PythonOPTemplate(ops.Defaults)))
        self.run(wf)  # type: ignore[attr-defined]
        out = self.one(wf, name="d").outputs.parameters  # type: ignore[attr-defined]
        assert (out["a_is_none"].value, out["b"].value) == (True, 2)

    def test_placeholders_in_envs_are_filled_in(self) -> None:
        """``envs={"V": "{{inputs.parameters.name}}"}`` and ``{{workflow.name}}``: the step sees the values, as a
        container's ``env`` on Argo does."""
        t = PythonOPTemplate(ops.EnvOf, envs={"DFLOW_TEST_V": "{{inputs.parameters.name}}-{{workflow.name}}"})
        wf = dflow.Workflow("env-refs")
        wf.add(dflow.Step("e", t, parameters={"name": "DFLOW_TEST_V"}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="e").outputs.parameters["value"].value == f"DFLOW_TEST_V-{wf.id}"  # type: ignore[attr-defined]

    def test_an_executor_that_wraps_a_python_op_in_bash_runs_it(self) -> None:
        """An executor that replaces a Python OP's command with ``bash`` and its script with a wrapper (dflow's
        container and remote executors do): the wrapper runs the OP."""
        wf = dflow.Workflow("wrapped")
        wf.add(dflow.Step("w", PythonOPTemplate(ops.EnvOf), parameters={"name": "DFLOW_TEST_WRAPPED"},
                          executor=ops.WrapInBash()))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="w").outputs.parameters["value"].value == "yes"  # type: ignore[attr-defined]

    def test_a_workflow_context_renders_only_the_steps_without_an_executor(self) -> None:
        """As in dflow: a step's own executor renders it; the workflow's context renders the others."""
        wf = dflow.Workflow("context", context=ops.SetEnv("context"))
        wf.add([dflow.Step("plain", PythonOPTemplate(ops.EnvOf), parameters={"name": "DFLOW_TEST_SOURCE"}),
                dflow.Step("own", PythonOPTemplate(ops.EnvOf), parameters={"name": "DFLOW_TEST_SOURCE"},
                           executor=ops.SetEnv("executor"))])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="plain").outputs.parameters["value"].value == "context"  # type: ignore[attr-defined]
        assert self.one(wf, name="own").outputs.parameters["value"].value == "executor"  # type: ignore[attr-defined]

    def test_script_output_parameters_are_read_as_argo_reads_them(self) -> None:
        """A script's output parameter file loses one trailing newline and nothing else (Argo's executor); a script
        that fails still has the outputs it wrote (Argo reads them whatever the exit code), else their defaults."""
        t = dflow.ShellOPTemplate(name="texts", image="alpine:3.15",
                                  script="printf '  a  \\n' > /tmp/t.txt; printf 'b\\n\\n' > /tmp/u.txt")
        t.outputs.parameters = {"t": dflow.OutputParameter(value_from_path="/tmp/t.txt"),
                                "u": dflow.OutputParameter(value_from_path="/tmp/u.txt")}
        bad = dflow.ShellOPTemplate(name="partial", image="alpine:3.15", script="printf partial > /tmp/o.txt; exit 2")
        bad.outputs.parameters = {"o": dflow.OutputParameter(value_from_path="/tmp/o.txt", default="d"),
                                  "q": dflow.OutputParameter(value_from_path="/tmp/q.txt", default="dq")}
        wf = dflow.Workflow("param-files")
        wf.add([dflow.Step("texts", t), dflow.Step("partial", bad, continue_on_failed=True)])
        self.run(wf)  # type: ignore[attr-defined]
        out = self.one(wf, name="texts").outputs.parameters  # type: ignore[attr-defined]
        assert (out["t"].value, out["u"].value) == ("  a  ", "b\n")
        out = self.one(wf, name="partial").outputs.parameters  # type: ignore[attr-defined]
        assert (out["o"].value, out["q"].value) == ("partial", "dq")

    def test_a_big_parameter_past_the_limit_of_an_environment_string_passes(self) -> None:
        """A ``BigParameter`` of 300 KB, given and handed from step to step: past Linux's 128 KiB limit on one
        environment string, which is how a pod gets its other parameters."""
        text = "x" * 300_000
        a = dflow.Step("a", PythonOPTemplate(ops.BigText), parameters={"text": text})
        b = dflow.Step("b", PythonOPTemplate(ops.BigText), parameters={"text": a.outputs.parameters["text"]})
        wf = dflow.Workflow("big-parameter")
        wf.add(a)
        wf.add(b)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="b").outputs.parameters["n"].value == 300_000  # type: ignore[attr-defined]

    def test_a_fanout_that_continues_on_its_failed_slices_succeeds(self) -> None:
        """``continue_on_failed`` on a fan-out: its failed slices are tolerated, so the fan-out (Argo's step group)
        succeeds, while each slice keeps its own phase."""
        s = dflow.Step("s", PythonOPTemplate(ops.FailIfOdd, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                       parameters={"x": [0, 1, 2]}, with_param=dflow.argo_range(3), continue_on_failed=True)
        wf = dflow.Workflow("tolerated")
        wf.add(s)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="s", type="StepGroup").phase == "Succeeded"  # type: ignore[attr-defined]
        assert sorted(p.phase for p in wf.query_step(name="s", type="Pod")) == ["Failed", "Succeeded", "Succeeded"]

    def test_an_empty_fanout_gives_an_empty_artifact(self) -> None:
        """A fan-out of no slices: a step reading its gathered artifact gets an empty list, not a failure."""
        w = dflow.Step("w", PythonOPTemplate(ops.SameNameWriter, slices=Slices(input_parameter=["x"], output_artifact=["out"])),
                 parameters={"x": []}, with_param=dflow.argo_range(0))
        r = dflow.Step("r", PythonOPTemplate(ops.ReadAll), artifacts={"files": w.outputs.artifacts["out"]})
        wf = dflow.Workflow("empty-fanout")
        wf.add(w)
        wf.add(r)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="r").outputs.parameters["texts"].value == []  # type: ignore[attr-defined]

    def test_a_script_output_file_keeps_its_name(self) -> None:
        """A script's output artifact that is one file downloads as that file, under its own name."""
        t = dflow.ShellOPTemplate(name="hello", image="alpine:3.15", script="echo Hello > /tmp/bar.txt")
        t.outputs.artifacts = {"bar": dflow.OutputArtifact(path="/tmp/bar.txt")}
        wf = dflow.Workflow("file-name")
        wf.add(dflow.Step("hello", t))
        self.run(wf)  # type: ignore[attr-defined]
        paths = dflow.download_artifact(self.one(wf, name="hello").outputs.artifacts["bar"],  # type: ignore[attr-defined]
                                  path=self.tmp / "dl")  # type: ignore[attr-defined]
        assert [Path(p).name for p in paths] == ["bar.txt"]
        assert (self.tmp / "dl" / "bar.txt").read_text() == "Hello\n"  # type: ignore[attr-defined]

    def test_a_part_of_a_script_output_directory_downloads_alone(self) -> None:
        """``download_artifact(..., sub_path=...)`` of a script's output directory gives that part only."""
        t = dflow.ShellOPTemplate(name="tree", image="alpine:3.15",
                                  script="mkdir -p /tmp/out/a /tmp/out/b && echo A > /tmp/out/a/x.txt && echo B > /tmp/out/b/y.txt")
        t.outputs.artifacts = {"out": dflow.OutputArtifact(path="/tmp/out")}
        wf = dflow.Workflow("sub-path")
        wf.add(dflow.Step("tree", t))
        self.run(wf)  # type: ignore[attr-defined]
        art = self.one(wf, name="tree").outputs.artifacts["out"]  # type: ignore[attr-defined]
        paths = dflow.download_artifact(art, sub_path="a", path=self.tmp / "a")  # type: ignore[attr-defined]
        assert [Path(p).name for p in paths] == ["x.txt"] and Path(paths[0]).read_text() == "A\n"
        whole = dflow.download_artifact(art, path=self.tmp / "whole")  # type: ignore[attr-defined]
        assert sorted(Path(p).name for p in whole) == ["a", "b"]

    def test_a_sliced_list_artifact_reaches_each_slice_as_a_list_of_its_item(self) -> None:
        """dpgen2's ``run-caly-model-devi``: slices of a list of directories, taken by an ``Artifact(List[Path])``
        sign, give each slice ``[its item]`` (as dflow does), alone or in groups of slices."""
        wf = dflow.Workflow("list-item")
        make = dflow.Step("make", PythonOPTemplate(ops.MakeDirs), parameters={"names": ["a", "b", "c"]})
        wf.add(make)
        fans = []
        for name, group in (("each", None), ("grouped", 2)):
            sl = Slices(input_artifact=["dirs"], output_parameter=["names"], group_size=group)
            fans.append(dflow.Step(name, PythonOPTemplate(ops.ItemNames, slices=sl),
                                   artifacts={"dirs": make.outputs.artifacts["dirs"]}, with_param=dflow.argo_range(3)))
        wf.add(fans)
        wf.add([dflow.Step(f"{f.name}-seen", PythonOPTemplate(ops.Same), parameters={"values": f.outputs.parameters["names"]})
                for f in fans])
        self.run(wf)  # type: ignore[attr-defined]
        for f in fans:
            seen = self.one(wf, name=f"{f.name}-seen").outputs.parameters["values"].value  # type: ignore[attr-defined]
            assert seen == [["a"], ["b"], ["c"]], (f.name, seen)

    def test_a_sliced_recursive_steps_template_stacks_every_round_of_every_slice(self) -> None:
        """dpgen2's calypso: Slices on a recursive Steps template (a super-OP), its sliced parameter and list
        artifact cut per instance, and its sliced output stacking what every round wrote (both branches of
        its ``if_expression``), read whole from the fan-out and from any one slice, as in dflow."""
        rounds = dflow.Steps("rounds")
        rounds.inputs.parameters["task"] = dflow.InputParameter()
        rounds.inputs.parameters["round"] = dflow.InputParameter(value=0)
        rounds.inputs.artifacts["seed"] = dflow.InputArtifact(optional=True)
        rounds.outputs.artifacts["traj_all"] = dflow.OutputArtifact()
        work = dflow.Step("work", PythonOPTemplate(ops.OneRound),
                          parameters={"task": rounds.inputs.parameters["task"], "round": rounds.inputs.parameters["round"]},
                          artifacts={"seed": rounds.inputs.artifacts["seed"]})
        rounds.add(work)
        again = dflow.Step("again", rounds, parameters={"task": rounds.inputs.parameters["task"],
                                                         "round": work.outputs.parameters["next"]},
                           artifacts={"seed": None}, when="%s < 3" % work.outputs.parameters["next"])
        rounds.add(again)
        rounds.outputs.artifacts["traj_all"].from_expression = dflow.if_expression(
            _if=work.outputs.parameters["next"] < 3, _then=again.outputs.artifacts["traj_all"],
            _else=work.outputs.artifacts["traj_dir"])
        wf = dflow.Workflow("stacked-rounds")
        seeds = dflow.Step("seeds", PythonOPTemplate(ops.Seeds), parameters={"names": ["a", "b"]})
        wf.add(seeds)
        wf.add(dflow.Step("s", rounds, parameters={"task": ["a", "b"]}, artifacts={"seed": seeds.outputs.artifacts["files"]},
                          slices=Slices(input_parameter=["task"], input_artifact=["seed"], output_artifact=["traj_all"]),
                          with_param=dflow.argo_range(2)))
        self.run(wf)  # type: ignore[attr-defined]
        every = [f"{t}/traj/{r}.txt" for t in "ab" for r in range(3)]
        group = self.one(wf, name="s", type="StepGroup")  # type: ignore[attr-defined]
        got = self.tmp / "group"  # type: ignore[attr-defined]
        dflow.download_artifact(group.outputs.artifacts["traj_all"], path=got)
        assert sorted(str(p.relative_to(got)) for p in got.rglob("*.txt")) == every
        assert (got / "a" / "traj" / "0.txt").read_text() == "a 0 seed-a"
        assert (got / "b" / "traj" / "0.txt").read_text() == "b 0 seed-b"
        assert (got / "b" / "traj" / "1.txt").read_text() == "b 1"
        # the records are the steps the user wrote, whatever a backend added to run them
        assert {r.name for r in wf.query_step()} - {wf.id} == {"seeds", "s", "work", "again"}
        instances = wf.query_step(name="s")
        assert sorted(i.inputs.parameters["task"].value for i in instances) == ["a", "b"]  # each its own slice
        first = instances[0]
        one = self.tmp / "slice"  # type: ignore[attr-defined]
        dflow.download_artifact(first.outputs.artifacts["traj_all"], path=one)
        assert sorted(str(p.relative_to(one)) for p in one.rglob("*.txt")) == every

    def test_a_sliced_dag_template_stacks_a_pod_and_a_fanout_inside_it(self) -> None:
        """Slices on a DAG template whose sliced output may come from a pod or from a sliced Python OP inside it
        (dpgen2's ``run-dp-optim``): the output stacks both; the same template used without Slices gives the
        branch its ``if_expression`` takes, and a slice with no item of a sliced artifact gets none."""
        dag = dflow.DAG("branches")
        dag.inputs.parameters["task"] = dflow.InputParameter()
        dag.inputs.artifacts["seeds"] = dflow.InputArtifact()
        dag.outputs.artifacts["traj_all"] = dflow.OutputArtifact()
        a = dflow.Task("a", PythonOPTemplate(ops.OneRound), parameters={"task": dag.inputs.parameters["task"], "round": 0})
        b = dflow.Task("b", PythonOPTemplate(ops.OneRound, slices=Slices(input_parameter=["round"], input_artifact=["seed"],
                                                                         output_artifact=["traj_dir"])),
                       parameters={"task": dag.inputs.parameters["task"], "round": [1, 2]},
                       artifacts={"seed": dag.inputs.artifacts["seeds"]})  # one item: slice 1 gets none
        dag.add([a, b])
        dag.outputs.artifacts["traj_all"].from_expression = dflow.if_expression(
            _if=a.outputs.parameters["next"] > 0, _then=a.outputs.artifacts["traj_dir"], _else=b.outputs.artifacts["traj_dir"])
        wf = dflow.Workflow("stacked-dag")
        seeds = dflow.Step("seeds", PythonOPTemplate(ops.Seeds), parameters={"names": ["x"]})
        wf.add(seeds)
        wf.add(dflow.Step("s", dag, parameters={"task": ["a", "b"]}, artifacts={"seeds": seeds.outputs.artifacts["files"]},
                          slices=Slices(input_parameter=["task"], output_artifact=["traj_all"])))
        wf.add(dflow.Step("one", dag, parameters={"task": "c"}, artifacts={"seeds": seeds.outputs.artifacts["files"]}))
        self.run(wf)  # type: ignore[attr-defined]
        got = self.tmp / "s"  # type: ignore[attr-defined]
        dflow.download_artifact(self.one(wf, name="s", type="StepGroup").outputs.artifacts["traj_all"], path=got)  # type: ignore[attr-defined]
        assert sorted(str(p.relative_to(got)) for p in got.rglob("*.txt")) == [
            f"{t}/traj/{r}.txt" for t in "ab" for r in range(3)]
        assert (got / "b" / "traj" / "1.txt").read_text() == "b 1 seed-x"
        assert (got / "b" / "traj" / "2.txt").read_text() == "b 2"
        one = self.tmp / "one"  # type: ignore[attr-defined]
        dflow.download_artifact(self.one(wf, name="one").outputs.artifacts["traj_all"], path=one)  # type: ignore[attr-defined]
        assert sorted(str(p.relative_to(one)) for p in one.rglob("*.txt")) == ["c/traj/0.txt"]


    def test_sub_path_slices_loop_over_items_with_an_order(self) -> None:
        """rid-kit's ``prep-select``: ``Slices(sub_path=True)`` without a loop fans out over dflow's items,
        ``{"order": i}``, counted from the sliced artifact (also when a parameter, here a Steps input, is
        sliced too), so a key reads the slice as ``{{item.order}}``."""
        body = dflow.Steps("select")
        body.inputs.parameters["names"] = dflow.InputParameter()
        body.inputs.artifacts["dirs"] = dflow.InputArtifact()
        body.add(dflow.Step("read", PythonOPTemplate(ops.ReadIn, slices=Slices(
            sub_path=True, input_parameter=["name"], input_artifact=["d"], output_parameter=["text"])),
            parameters={"name": body.inputs.parameters["names"]}, artifacts={"d": body.inputs.artifacts["dirs"]},
            key="read-{{item.order}}"))
        wf = dflow.Workflow("sub-path-order")
        make = dflow.Step("make", PythonOPTemplate(ops.MakeDirs), parameters={"names": ["a", "b"]})
        wf.add(make)
        wf.add(dflow.Step("select", body, parameters={"names": ["f.txt", "f.txt"]},
                          artifacts={"dirs": make.outputs.artifacts["dirs"]}))
        self.run(wf)  # type: ignore[attr-defined]
        by_key = {s.key: s.outputs.parameters["text"].value for s in wf.query_step(name="read") if s.key}
        assert by_key == {"read-0": "a", "read-1": "b"}, by_key

    def test_a_key_rendered_with_a_slash_names_its_step(self) -> None:
        """APEX builds keys from a path (``confs/std-fcc--relax``): held to no rule, as in dflow."""
        body = dflow.Steps("flow")
        body.inputs.parameters["flow_id"] = dflow.InputParameter()
        body.add(dflow.Step("make", PythonOPTemplate(ops.AddOne), parameters={"n": 1},
                            key="{{inputs.parameters.flow_id}}--relax"))
        wf = dflow.Workflow("key-slash")
        wf.add(dflow.Step("flow", body, parameters={"flow_id": "confs/std-fcc"}))
        self.run(wf)  # type: ignore[attr-defined]
        step = self.one(wf, key="confs/std-fcc--relax")  # type: ignore[attr-defined]
        assert step.phase == "Succeeded" and step.outputs.parameters["n"].value == 2

    def test_a_link_out_of_an_output_directory_is_followed(self) -> None:
        """APEX's task directories link to a file beside them (``POSCAR -> ../../POSCAR``): as in dflow, the
        output holds the file the link names, so the next step reads it."""
        wf = dflow.Workflow("linked-output")
        make = dflow.Step("make", PythonOPTemplate(ops.LinkedTask), parameters={"text": "poscar"})
        read = dflow.Step("read", PythonOPTemplate(ops.ReadIn), parameters={"name": "data.txt"},
                          artifacts={"d": make.outputs.artifacts["task"]})
        wf.add([make])
        wf.add([read])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="read").outputs.parameters["text"].value == "poscar"  # type: ignore[attr-defined]

    def test_a_sign_with_sub_path_false_takes_the_artifacts_directory(self) -> None:
        """``Artifact(Path, sub_path=False)`` (APEX's ``RelaxPost``): the artifact's directory, not its one item."""
        wf = dflow.Workflow("sub-path-false")
        make = dflow.Step("make", PythonOPTemplate(ops.MakeDirs), parameters={"names": ["conf"]})
        see = dflow.Step("see", PythonOPTemplate(ops.Entries), artifacts={"d": make.outputs.artifacts["dirs"]})
        wf.add(make)
        wf.add(see)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="see").outputs.parameters["names"].value == ["conf"]  # type: ignore[attr-defined]

    def test_slices_of_an_artifact_on_a_steps_template_without_a_loop(self) -> None:
        """dpgen2's ``caly-evo-step``: Slices on a Steps template, no loop given; the number of instances comes
        from the sliced inputs, and each instance takes its item of the artifact and of the parameter."""
        body = dflow.Steps("per-dir")
        body.inputs.parameters["name"] = dflow.InputParameter()
        body.inputs.artifacts["d"] = dflow.InputArtifact()
        read = dflow.Step("read", PythonOPTemplate(ops.ReadIn), parameters={"name": body.inputs.parameters["name"]},
                          artifacts={"d": body.inputs.artifacts["d"]})
        body.add(read)
        body.outputs.parameters["text"] = dflow.OutputParameter(value_from_parameter=read.outputs.parameters["text"])
        wf = dflow.Workflow("superop-no-loop")
        make = dflow.Step("make", PythonOPTemplate(ops.MakeDirs), parameters={"names": ["a", "b"]})
        wf.add(make)
        each = dflow.Step("each", body, slices=Slices(input_parameter=["name"], input_artifact=["d"],
                                                      output_parameter=["text"]),
                          parameters={"name": ["f.txt", "f.txt"]}, artifacts={"d": make.outputs.artifacts["dirs"]})
        wf.add(each)
        wf.add(dflow.Step("seen", PythonOPTemplate(ops.Same), parameters={"values": each.outputs.parameters["text"]}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="seen").outputs.parameters["values"].value == ["a", "b"]  # type: ignore[attr-defined]

    def test_a_script_names_its_pod(self) -> None:
        """``{{pod.name}}`` in a script (dflow's own templates key outputs by it): the pod's name, as Argo forms it,
        ``<workflow name>-<template>-<id>``, one per pod of a fan-out."""
        t = dflow.ShellOPTemplate(name="pod-name", image="alpine:3.15",
                                  script="echo {{pod.name}} > /tmp/o.txt")
        t.inputs.parameters["i"] = dflow.InputParameter()
        t.outputs.parameters["o"] = dflow.OutputParameter(value_from_path="/tmp/o.txt")
        wf = dflow.Workflow("pod-names")
        wf.add(dflow.Step("each", t, parameters={"i": "{{item}}"}, with_param=[0, 1]))
        self.run(wf)  # type: ignore[attr-defined]
        names = [s.outputs.parameters["o"].value for s in wf.query_step(name="each", type="Pod")]
        assert len(set(names)) == 2 and all(n.startswith(wf.id + "-pod-name") for n in names), (wf.id, names)
