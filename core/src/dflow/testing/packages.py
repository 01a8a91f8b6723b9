"""Data-flow promises of the backend conformance suite found by packages built on dflow.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them).
Each was found by running a package's own tests or examples (abacus-test, dflow-galaxy)
unchanged on this project: the original dflow gave the answer, this project did not.
"""

from __future__ import annotations

import dflow
from dflow.python import PythonOPTemplate, Slices

from . import ops

__all__ = ["PackageChecks"]


class PackageChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``, ``tmp``)."""

    def test_an_input_artifact_carries_where_it_was_placed(self) -> None:
        """abacustest's OPs read ``op_in["examples"].art_root``: as in dflow, an input artifact's value (a list
        of paths, a path) carries the directory the artifact was placed at, and its items are below it."""
        (self.tmp / "one.txt").write_text("1")  # type: ignore[attr-defined]
        wf = dflow.Workflow("art-root")
        make = dflow.Step("make", PythonOPTemplate(ops.MakeDirs), parameters={"names": ["a", "b"]})
        see = dflow.Step("see", PythonOPTemplate(ops.ArtRoots),
                         artifacts={"dirs": make.outputs.artifacts["dirs"], "one": dflow.upload_artifact("one.txt")})
        wf.add(make)
        wf.add(see)
        self.run(wf)  # type: ignore[attr-defined]
        got = self.one(wf, name="see").outputs.parameters  # type: ignore[attr-defined]
        assert got["rel"].value == ["a", "b"] and got["one_rel"].value == "one.txt", (got["rel"].value, got["one_rel"].value)

    def test_relative_output_paths_are_taken_from_where_the_op_ended(self) -> None:
        """abacustest's ``PostDFT`` changes directory and returns ``Path("post.log")``: as in dflow, the output
        holds that file (relative to the directory the OP ended in), not nothing."""
        wf = dflow.Workflow("ends-elsewhere")
        post = dflow.Step("post", PythonOPTemplate(ops.EndsElsewhere), parameters={"text": "done"})
        names = dflow.Step("names", PythonOPTemplate(ops.ItemNames), artifacts={"dirs": post.outputs.artifacts["files"]})
        wf.add(post)
        wf.add(names)
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="names").outputs.parameters["names"].value == ["post.log"]  # type: ignore[attr-defined]

    def test_a_file_uploaded_by_upload_s3_is_an_artifact_and_a_templates_default(self) -> None:
        """dflow-galaxy ships each function as one file, ``upload_s3("fn.txt", prefix)``, and gives it as the
        ``source`` of a template's input artifact (its default) or as ``S3Artifact(key=...)``: the script
        finds the file at the declared path, and the folder that holds it at its folder."""
        import uuid

        (self.tmp / "fn.txt").write_text("from source")  # type: ignore[attr-defined]
        (self.tmp / "given.txt").write_text("given")  # type: ignore[attr-defined]
        prefix = "conformance/%s" % uuid.uuid4().hex[:8]
        default = dflow.upload_s3(str(self.tmp / "fn.txt"), prefix + "/build/fn")  # type: ignore[attr-defined]
        given = dflow.upload_s3(str(self.tmp / "given.txt"), prefix + "/build/given")  # type: ignore[attr-defined]
        t = dflow.ShellOPTemplate(name="cat-fn", image="alpine:3.15",
                                  script="cat /tmp/base/pkg/script.txt > /tmp/out.txt; ls /tmp/base/pkg > /tmp/ls.txt")
        t.inputs.artifacts["fn"] = dflow.InputArtifact(path="/tmp/base/pkg/script.txt", source=dflow.S3Artifact(key=default))
        t.outputs.parameters["text"] = dflow.OutputParameter(value_from_path="/tmp/out.txt")
        t.outputs.parameters["ls"] = dflow.OutputParameter(value_from_path="/tmp/ls.txt")
        wf = dflow.Workflow("upload-s3-file")
        wf.add(dflow.Step("default", t))
        wf.add(dflow.Step("given", t, artifacts={"fn": dflow.S3Artifact(key=given)}))
        self.run(wf)  # type: ignore[attr-defined]
        for name, text in (("default", "from source"), ("given", "given")):
            out = self.one(wf, name=name).outputs.parameters  # type: ignore[attr-defined]
            assert (out["text"].value, out["ls"].value) == (text, "script.txt"), (name, out["text"].value, out["ls"].value)

    def test_grouped_slices_with_an_expression_over_a_sequence_counted_at_run_time(self) -> None:
        """abacustest's ``rundft``: ``Slices("int('{{item}}')", group_size=2)`` over
        ``argo_sequence(argo_len(<output>), format="%03d")``: two groups, every slice's output gathered in
        order; and ``with_param=range(3)`` fans out over the range, as in dflow."""
        wf = dflow.Workflow("group-expr")
        same = dflow.Step("same", PythonOPTemplate(ops.Same), parameters={"values": [1, 2, 3]})
        each = dflow.Step("each", PythonOPTemplate(ops.Square, slices=Slices(
            "int('{{item}}')", input_parameter=["x"], output_parameter=["y"], group_size=2)),
            parameters={"x": same.outputs.parameters["values"]},
            with_sequence=dflow.argo_sequence(dflow.argo_len(same.outputs.parameters["values"]), format="%03d"),
            key="sq-{{item}}")
        ranged = dflow.Step("ranged", PythonOPTemplate(ops.AddOne), parameters={"n": "{{item}}"}, with_param=range(3))
        wf.add(same)
        wf.add([each, ranged])
        wf.add(dflow.Step("seen", PythonOPTemplate(ops.Same), parameters={"values": each.outputs.parameters["y"]}))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="seen").outputs.parameters["values"].value == [1, 4, 9]  # type: ignore[attr-defined]
        assert sorted(s.key for s in wf.query_step(name="each") if s.key) == ["sq-000", "sq-001"]
        assert sorted(s.outputs.parameters["n"].value for s in wf.query_step(name="ranged", type="Pod")) == [1, 2, 3]

    def test_an_output_is_also_stored_at_the_key_its_save_names(self) -> None:
        """abacustest hands ``rundft``'s outputs to ``postdft`` through ``save=[S3Artifact(key="{{workflow.name}}/...")]``:
        as in dflow, a copy of the output goes to that key (the slices of a fan-out may share one, each adding
        its files; a key may hold the template's input parameters), and a later step reads it as
        ``S3Artifact(key=...)`` with the workflow's name in the key, filled in when it runs."""
        shared = dflow.S3Artifact(key="{{workflow.name}}/saved/all")
        fan = dflow.Step("fan", PythonOPTemplate(
            ops.WriteFile, output_artifact_save={"out": shared}, output_artifact_archive={"out": None},
            slices=Slices("{{item}}", input_parameter=["name"], output_artifact=["out"])),
            parameters={"text": "x", "name": ["a.txt", "b.txt", "c.txt"]}, with_param=dflow.argo_range(3))
        own = dflow.Step("own", PythonOPTemplate(ops.WriteFile, output_artifact_save={
            "out": [dflow.S3Artifact(key="{{workflow.name}}/saved/{{inputs.parameters.name}}")]}),
            parameters={"text": "own", "name": "own.txt"})
        wf = dflow.Workflow("save-key")
        wf.add([fan, own])
        wf.add([dflow.Step("names", PythonOPTemplate(ops.ItemNames), artifacts={"dirs": shared}),
                dflow.Step("cat", PythonOPTemplate(ops.Concat), parameters={"suffix": "!"},
                           artifacts={"inp": dflow.S3Artifact(key="{{workflow.name}}/saved/own.txt")})])
        self.run(wf)  # type: ignore[attr-defined]
        assert sorted(self.one(wf, name="names").outputs.parameters["names"].value) == ["a.txt", "b.txt", "c.txt"]  # type: ignore[attr-defined]
        assert self.one(wf, name="cat").outputs.parameters["text"].value == "own!"  # type: ignore[attr-defined]
        # the step's own output is where it always is; the copy is an extra, not the output
        assert "saved" not in self.one(wf, name="own").outputs.artifacts["out"].key  # type: ignore[attr-defined]

    def test_a_super_ops_input_with_default_none_has_that_value(self) -> None:
        """pfd-kit's ``expl-train-loop`` declares ``"report": InputParameter(value=None)`` on a Steps template, and the
        step calling it gives no ``report``: the default ``None`` applies (not "has no value"), as in dflow."""
        loop = dflow.Steps("loop", inputs=dflow.Inputs(parameters={"report": dflow.InputParameter(value=None)}))
        loop.add(dflow.Step("type", PythonOPTemplate(ops.TypeOf), parameters={"v": loop.inputs.parameters["report"]}))
        wf = dflow.Workflow("none-default")
        wf.add(dflow.Step("call-loop", loop))
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="type").outputs.parameters["type"].value == "NoneType"  # type: ignore[attr-defined]

    def test_a_list_or_a_text_given_as_one_artifact(self) -> None:
        """pfd-kit gives ``artifacts={"init_confs": [...]}``: as in dflow, a list given as one artifact is its items
        merged in order (uploads, texts), and a text given as an artifact is a file holding it (a raw artifact)."""
        (self.tmp / "a.txt").write_text("a")  # type: ignore[attr-defined]
        (self.tmp / "b.txt").write_text("b")  # type: ignore[attr-defined]
        ups = [dflow.upload_artifact(str(self.tmp / n)) for n in ("a.txt", "b.txt")]  # type: ignore[attr-defined]
        wf = dflow.Workflow("list-artifact")
        wf.add([dflow.Step("names", PythonOPTemplate(ops.ItemNames), artifacts={"dirs": ups}),
                dflow.Step("mixed", PythonOPTemplate(ops.ItemNames), artifacts={"dirs": ["some text", ups[1]]}),
                dflow.Step("raw", PythonOPTemplate(ops.Concat), parameters={"suffix": "!"},
                           artifacts={"inp": "./pert_si.extxyz"})])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="names").outputs.parameters["names"].value == ["a.txt", "b.txt"]  # type: ignore[attr-defined]
        assert self.one(wf, name="mixed").outputs.parameters["names"].value == ["dirs", "b.txt"]  # type: ignore[attr-defined]
        assert self.one(wf, name="raw").outputs.parameters["text"].value == "./pert_si.extxyz!"  # type: ignore[attr-defined]

    def test_a_dict_given_as_one_artifact_reaches_the_op_by_key(self) -> None:
        """As in dflow, ``artifacts={"tree": {"one": ..., "many": ...}}`` merges the artifacts, and an OP with a
        ``NestedDict[Path]`` sign gets each one under its key: the paths of its items as a list (a text: a file
        holding it). A nested dict nests, and a list inside is merged first."""
        for n in ("a", "b"):
            (self.tmp / f"{n}.txt").write_text(n)  # type: ignore[attr-defined]
        one = dflow.upload_artifact(str(self.tmp / "a.txt"))  # type: ignore[attr-defined]
        many = dflow.upload_artifact([str(self.tmp / "a.txt"), str(self.tmp / "b.txt")])  # type: ignore[attr-defined]
        b = dflow.upload_artifact(str(self.tmp / "b.txt"))  # type: ignore[attr-defined]
        wf = dflow.Workflow("dict-artifact")
        wf.add([dflow.Step("texts", PythonOPTemplate(ops.TreeTexts), artifacts={
                    "tree": {"one": one, "many": many, "note": "hello", "deep": {"x": [one, None, b]}, "none": None}}),
                dflow.Step("empty", PythonOPTemplate(ops.TreeTexts), artifacts={"tree": {"none": None}}),
                dflow.Step("no-items", PythonOPTemplate(ops.ItemNames), artifacts={"dirs": []})])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="texts").outputs.parameters["texts"].value == {  # type: ignore[attr-defined]
            "one": ["a"], "many": ["a", "b"], "note": ["hello"], "deep": {"x": ["a", "b"]}}
        # an item given as None is no artifact, as artifacts={"x": None} is; with none left, the artifact is empty
        assert self.one(wf, name="empty").outputs.parameters["texts"].value == {}  # type: ignore[attr-defined]
        assert self.one(wf, name="no-items").outputs.parameters["names"].value == []  # type: ignore[attr-defined]

    def test_a_list_or_dict_of_step_outputs_given_as_one_artifact(self) -> None:
        """As in dflow, other steps' outputs (a fan-out's gathered output too) may be the items of a list or dict
        given as one artifact, beside texts and uploads: the step runs after them and gets them merged."""
        (self.tmp / "u.txt").write_text("u")  # type: ignore[attr-defined]
        up = dflow.upload_artifact(str(self.tmp / "u.txt"))  # type: ignore[attr-defined]
        wf = dflow.Workflow("list-of-outputs")
        a = dflow.Step("a", PythonOPTemplate(ops.WriteFile), parameters={"text": "A", "name": "same.txt"})
        b = dflow.Step("b", PythonOPTemplate(ops.WriteFile), parameters={"text": "B", "name": "same.txt"})
        fan = dflow.Step("fan", PythonOPTemplate(ops.WriteFile, slices=Slices(
            "{{item}}", input_parameter=["text", "name"], output_artifact=["out"])),
            parameters={"text": ["x", "y"], "name": ["x.txt", "y.txt"]}, with_param=dflow.argo_range(2))
        wf.add([a, b, fan])
        wf.add([dflow.Step("names", PythonOPTemplate(ops.ItemNames), artifacts={
                    "dirs": [a.outputs.artifacts["out"], "text", b.outputs.artifacts["out"], up]}),
                dflow.Step("texts", PythonOPTemplate(ops.TreeTexts), artifacts={"tree": {
                    "a": a.outputs.artifacts["out"], "fan": fan.outputs.artifacts["out"],
                    "n": {"b": [b.outputs.artifacts["out"], up]}, "empty": []}})])
        self.run(wf)  # type: ignore[attr-defined]
        assert self.one(wf, name="names").outputs.parameters["names"].value == [  # type: ignore[attr-defined]
            "same.txt", "dirs", "same.txt", "u.txt"]
        assert self.one(wf, name="texts").outputs.parameters["texts"].value == {  # type: ignore[attr-defined]
            "a": ["A"], "fan": ["x", "y"], "n": {"b": ["B", "u"]}}  # an empty list inside is no artifact
