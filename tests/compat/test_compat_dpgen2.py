"""Regression tests of what running dpgen2's and dflow's own suites here showed (after the
causes of ``docs/compat-report.md`` were fixed): each is the pattern a dpgen2 workflow uses,
in a few lines, on the local backend."""

import os
from pathlib import Path

from compat_objects import Report, Scaled, count_union, make_report, maybe_report, read_config, read_or_none

from dflow import (
    OutputParameter,
    Outputs,
    ShellOPTemplate,
    Step,
    Steps,
    Workflow,
    argo_range,
    if_expression,
    upload_artifact,
)
from dflow.python import PythonOPTemplate, Slices


def _value(wf: Workflow, step: str, name: str):
    return wf.query_step(name=step)[0].outputs.parameters[name].value


def test_a_dict_holding_objects_reaches_the_op_as_given(local_run):
    wf = Workflow(name="objects-in-dict")
    wf.add(Step("s", PythonOPTemplate(read_config), parameters={"config": {"obj": Report(7), "run": {"x": 1}}}))
    wf.submit()
    assert _value(wf, "s", "n") == 7


def test_steps_outputs_read_back_as_the_type_of_the_step_output_they_hand_on(local_run):
    """A Steps output declares no type; it hands on an OP output of sign ``Report`` (the OP
    returned a subclass): the client reads back the object, directly and through if_expression."""
    inner = Steps(name="inner", outputs=Outputs(parameters={"direct": OutputParameter(), "chosen": OutputParameter()}))
    a = Step("a", PythonOPTemplate(make_report), parameters={"n": 5})
    b = Step("b", PythonOPTemplate(make_report), parameters={"n": 9}, when="false")
    inner.add([a, b])
    inner.outputs.parameters["direct"].value_from_parameter = a.outputs.parameters["r"]
    inner.outputs.parameters["chosen"].value_from_expression = if_expression(
        _if=(a.outputs.parameters["r"] == a.outputs.parameters["r"]), _then=a.outputs.parameters["r"],
        _else=b.outputs.parameters["r"])
    wf = Workflow(name="typed-steps-outputs")
    wf.add(Step("outer", inner))
    wf.submit()
    assert wf.query_status() == "Succeeded"
    assert _value(wf, "outer", "direct").n == 5
    assert _value(wf, "outer", "chosen").n == 5


def test_a_comparison_with_true_reads_the_text_of_a_bool_output(local_run):
    shell = ShellOPTemplate(name="yes", image="alpine", script="echo true > /tmp/ok")
    shell.outputs.parameters["ok"] = OutputParameter(value_from_path="/tmp/ok")
    flag = Step("flag", shell)
    taken = Step("taken", PythonOPTemplate(make_report), parameters={"n": 1}, when=flag.outputs.parameters["ok"] == True)  # noqa: E712
    skipped = Step("skipped", PythonOPTemplate(make_report), parameters={"n": 2},
                   when=flag.outputs.parameters["ok"] != True)  # noqa: E712
    wf = Workflow(name="bool-compare")
    wf.add(flag)
    wf.add([taken, skipped])
    wf.submit()
    assert _value(wf, "flag", "ok") == "true"  # a shell step's output with no type is its text
    assert wf.query_step(name="taken")[0].phase == "Succeeded"
    assert wf.query_step(name="skipped")[0].phase in ("Skipped", "Omitted")


def test_none_for_an_object_parameter_passes_the_build_and_reaches_the_op(local_run):
    wf = Workflow(name="none-literal")
    wf.add(Step("s", PythonOPTemplate(maybe_report), parameters={"r": None}))
    wf.submit()
    assert _value(wf, "s", "got") == "none"


def test_a_union_artifact_sign_gets_the_list_of_files(local_run, tmp_path):
    for n in ("a", "b"):
        (tmp_path / n).write_text(n)
    wf = Workflow(name="union-sign")
    wf.add(Step("s", PythonOPTemplate(count_union), artifacts={"files": upload_artifact([str(tmp_path / "a"),
                                                                                        str(tmp_path / "b")])}))
    wf.submit()
    assert _value(wf, "s", "n") == 2


def test_an_upload_survives_a_change_of_directory_and_none_keeps_a_slice_place(local_run, tmp_path):
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    (sub / "b.txt").write_text("B")
    os.chdir(sub)  # the local store is rooted at "."; the upload must not depend on it
    art = upload_artifact([None, "b.txt"], archive=None)
    os.chdir(tmp_path)
    step = Step("s", PythonOPTemplate(read_or_none, slices=Slices(input_artifact=["f"], output_parameter=["text"])),
                artifacts={"f": art}, with_param=argo_range(2))
    wf = Workflow(name="upload-places")
    wf.add(step)
    wf.submit()
    assert wf.query_step(name="s", type="StepGroup")[0].outputs.parameters["text"].value == ["none", "B"]


def test_an_op_object_built_with_arguments_is_what_runs(local_run):
    wf = Workflow(name="op-object")
    wf.add(Step("s", PythonOPTemplate(Scaled(3)), parameters={"x": 4}))
    wf.submit()
    assert _value(wf, "s", "y") == 12


def test_group_size_with_the_item_pattern(local_run):
    t = PythonOPTemplate(make_report, slices=Slices("{{item}}", input_parameter=["n"], output_parameter=["r"],
                                                    group_size=2))
    wf = Workflow(name="group-item")
    wf.add(Step("s", t, parameters={"n": [1, 2, 3]}, with_param=argo_range(3)))
    wf.submit()
    assert wf.query_status() == "Succeeded"


def test_a_workflow_renders_for_argo_in_debug_mode_with_uploads(local_run, tmp_path):
    import pytest

    pytest.importorskip("dflow_argo", reason="rendering needs the Argo backend (dflow-argo)")
    (tmp_path / "in.txt").write_text("x")
    wf = Workflow(name="render-in-debug")
    wf.add(Step("s", PythonOPTemplate(read_or_none), artifacts={"f": upload_artifact(str(tmp_path / "in.txt"))}))
    assert wf.to_dict()["kind"] == "Workflow"
    assert not Path("dflow").exists()  # rendering uploads nothing
