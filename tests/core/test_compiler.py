"""Compiling the user model to a WorkflowSpec: naming, deduplication, validation."""

import json
import re

import pytest

from dflow import (
    DAG,
    InputParameter,
    OutputParameter,
    ShellOPTemplate,
    Step,
    Steps,
    Task,
    Workflow,
    WorkflowSpec,
    argo_range,
)
from dflow.errors import NameRuleError, ValidationError
from dflow.python import PythonOPTemplate, Slices
from dflow.testing import ops


def test_spec_round_trips_through_json():
    wf = Workflow("rt")
    a = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, key="a-key")
    wf.add(a)
    wf.add(Step("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]}))
    spec = wf.compile()
    again = WorkflowSpec.from_json(spec.to_json())
    assert again == spec
    steps = spec.template(spec.entrypoint).steps
    assert steps[1][0].parameters["n"] == "{{steps.a.outputs.parameters.n}}"
    assert steps[0][0].parameters["n"] == "1" and steps[0][0].parameter_types["n"] == "int"


def test_identical_templates_are_emitted_once():
    wf = Workflow("dedupe")
    for i in range(5):
        wf.add(Step(f"s{i}", PythonOPTemplate(ops.AddOne), parameters={"n": i}))
    spec = wf.compile()
    assert [t.name for t in spec.templates if t.kind == "script"] == ["add-one"]


def test_different_templates_with_one_name_get_distinct_names():
    wf = Workflow("clash")
    wf.add(Step("a", PythonOPTemplate(ops.AddOne, timeout=5), parameters={"n": 1}))
    wf.add(Step("b", PythonOPTemplate(ops.AddOne, timeout=9), parameters={"n": 1}))
    names = sorted(t.name for t in wf.compile().templates if t.kind == "script")
    assert names == ["add-one", "add-one-2"]


def test_step_timeout_and_executor_make_a_derived_template():
    class Wrap:
        def render(self, template):
            template.script = "echo wrapped\n" + template.script
            return template

    t = ShellOPTemplate(name="hello", image="alpine", script="echo hi")
    wf = Workflow("derive")
    wf.add(Step("a", t, timeout=3))
    wf.add(Step("b", t, executor=Wrap()))
    spec = wf.compile()
    scripts = {s.name: s for s in spec.templates if s.kind == "script"}
    assert {s.timeout for s in scripts.values()} == {3, None}
    assert any(s.script.startswith("echo wrapped") for s in scripts.values())
    assert t.script == "echo hi" and t.timeout is None  # the user's template is untouched


def test_dag_dependencies_come_from_data_flow():
    dag = DAG("d")
    a = Task("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
    b = Task("b", PythonOPTemplate(ops.AddOne), parameters={"n": a.outputs.parameters["n"]})
    c = Task("c", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, dependencies=[b])
    dag.add([a, b, c])
    spec = Workflow("d", dag=dag).compile()
    deps = {t.name: t.dependencies for t in spec.template("d").tasks}
    assert deps == {"a": [], "b": ["a"], "c": ["b"]}


def test_recursive_steps_compile_once():
    loop = Steps("loop")
    loop.inputs.parameters["n"] = InputParameter(value=0)
    s = Step("inc", PythonOPTemplate(ops.AddOne), parameters={"n": loop.inputs.parameters["n"]})
    loop.add(s)
    loop.add(Step("again", loop, parameters={"n": s.outputs.parameters["n"]}, when="%s < 3" % s.outputs.parameters["n"]))
    spec = Workflow("r", steps=loop).compile()
    assert [t.name for t in spec.templates].count("loop") == 1
    assert spec.template("loop").steps[1][0].template == "loop"


@pytest.mark.parametrize("build,match", [
    (lambda: Step("a", PythonOPTemplate(ops.AddOne), parameters={"m": 1}), r"has no input parameter\(s\) \['m'\]"),
    (lambda: Step("bad_name", PythonOPTemplate(ops.AddOne)), r"must consist of alpha-numeric characters or '-'"),
    (lambda: Workflow("Bad_Name"), r"lowercase RFC 1123"),
    (lambda: PythonOPTemplate(ops.AddOne, slices=Slices(input_parameter=["nope"])), r"names \['nope'\]"),
    (lambda: Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, continue_on_success_ratio=2),
     "between 0 and 1"),
])
def test_bad_input_is_refused_when_built(build, match):
    with pytest.raises(ValidationError, match=match):
        build()


def test_name_errors_quote_the_rule():
    with pytest.raises(NameRuleError) as e:
        OutputParameter(name="bad name")
    assert "alpha-numeric characters, '_' or '-'" in str(e.value)


def test_missing_input_is_refused_at_compile_time():
    wf = Workflow("missing")
    wf.add(Step("a", PythonOPTemplate(ops.AddOne)))
    with pytest.raises(ValidationError, match=r"input parameter 'n' .* has no value and no default"):
        wf.compile()


def test_dag_cycle_is_refused():
    dag = DAG("cyc")
    a = Task("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
    b = Task("b", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, dependencies=[a])
    a.dependencies.append(b)
    dag.add([a, b])
    with pytest.raises(ValidationError, match="cycle"):
        Workflow("cyc", dag=dag).compile()


def test_reference_to_unknown_input_is_refused():
    outer = Steps("outer")
    inner = Steps("inner")
    inner.inputs.parameters["x"] = InputParameter()
    step = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": inner.inputs.parameters["x"]})
    outer.add(step)  # refers to the inputs of another template
    with pytest.raises(ValidationError, match="has no input parameter 'x'"):
        Workflow("w", steps=outer).compile()


def test_sliced_step_without_a_loop_fans_out_over_its_sliced_input():
    """As in dflow, the compiler works the loop out from the sliced input (lowered once, for every backend)."""
    wf = Workflow("noloop")
    wf.add(Step("a", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                parameters={"x": [1, 2, 5]}))
    step = wf.compile().template(wf.steps.name).steps[0][0]
    assert json.loads(step.with_param) == [0, 1, 2]
    assert step.parameters["dflow_slice"] == "{{item}}"
    assert step.fanout.gather_parameters == ["y"] and step.fanout.input_parameters == ["x"]
    outer = Steps("outer")
    outer.inputs.parameters["xs"] = InputParameter()
    outer.add(Step("b", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                   parameters={"x": outer.inputs.parameters["xs"]}))
    wf2 = Workflow("ref")
    wf2.add(Step("o", outer, parameters={"xs": [1]}))
    step = wf2.compile().template("outer").steps[0][0]
    assert step.with_param == "{{=toJson(sprig.until(len(sprig.fromJson(inputs.parameters['xs']))))}}"


def test_grouped_slices_loop_over_groups():
    wf = Workflow("grouped")
    wf.add(Step("a", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"],
                                                                  group_size=2)),
                parameters={"x": [1, 2, 3, 4, 5]}, with_param=argo_range(5)))
    step = wf.compile().template(wf.steps.name).steps[0][0]
    assert step.with_param.startswith("{{=toJson(sprig.until(int((len(") and "+ 1) / 2)" in step.with_param
    assert step.fanout.group_size == 2


def test_sliced_step_whose_slices_name_no_given_input_is_refused():
    wf = Workflow("noinput")
    wf.add(Step("a", PythonOPTemplate(ops.Square, slices=Slices(output_parameter=["y"])), parameters={"x": 1}))
    with pytest.raises(ValidationError, match="number of slices is unknown"):
        wf.compile()


def test_expressions_render_as_argo_text():
    a = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
    p = a.outputs.parameters["n"]
    assert str(p) == "{{steps.a.outputs.parameters.n}}"
    assert str(p > 3) == "{{=(asFloat(steps['a'].outputs.parameters['n']) > 3)}}"
    with pytest.raises(TypeError, match="evaluated when the workflow runs"):
        bool(p < 2)
    json.dumps(Workflow("j").compile().model_dump(mode="json"))


# ---------------------------------------------------------------- bad input refused before anything runs


def test_a_script_that_refers_to_an_undeclared_input_is_refused():
    t = ShellOPTemplate(name="greet", script="echo {{inputs.parameters.msg}} {{inputs.parameters.nope}}")
    t.inputs.parameters = {"msg": InputParameter()}
    wf = Workflow("undeclared")
    wf.add(Step("a", t, parameters={"msg": "hi"}))
    with pytest.raises(ValidationError, match=r"template 'greet' refers to \{\{inputs.parameters.nope\}\}.*\['msg'\]"):
        wf.compile()


def test_an_unknown_output_names_the_step_the_template_and_what_there_is():
    from dflow.errors import UnknownNameError

    s = Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1})
    with pytest.raises(KeyError) as e:
        s.outputs.parameters["nope"]  # noqa: B018
    assert isinstance(e.value, UnknownNameError)
    assert str(e.value) == "step 'a' (template 'add-one') has no output parameter 'nope'; its output parameters are ['n']"
    with pytest.raises(UnknownNameError, match="has no output artifact 'x'; its output artifacts are none"):
        s.outputs.artifacts["x"]  # noqa: B018


@pytest.mark.parametrize("build, message", [
    (lambda: Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": "abc"}),
     "input parameter 'n' of OP AddOne: expected int, found str 'abc'"),
    (lambda: Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": [1]}),
     "expected int, found list"),
    (lambda: Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, with_param="abc"),
     "with_param must be a list"),
    (lambda: Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, with_param={"a": 1}),
     "with_param must be a list"),
    (lambda: Step("a", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                  parameters={"x": 3}),
     "input parameter 'x' is sliced"),
    (lambda: Step("a", PythonOPTemplate(ops.Square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                  parameters={"x": [1, "two"]}),
     "expected int, found str 'two'"),
])
def test_literal_values_that_cannot_work_are_refused_at_compile_time(build, message):
    wf = Workflow("literals")
    wf.add(build())
    with pytest.raises(ValidationError, match=re.escape(message)):
        wf.compile()


def test_literal_text_that_decodes_to_the_type_is_accepted():
    wf = Workflow("text")
    wf.add(Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": "5"}))
    wf.compile()


def test_a_name_given_twice_is_refused_when_added_and_in_a_list_changed_by_hand_when_compiled():
    t = PythonOPTemplate(ops.AddOne)
    dag = DAG("d")
    first = Task("a", t, parameters={"n": 1})
    dag.add(first)
    dag.add(first)  # the same task again (a task made inside `with dag:` joined it already): kept once
    assert [x.name for x in dag.tasks] == ["a"]
    with pytest.raises(ValidationError, match="already has a task called 'a'"):
        dag.add(Task("a", t, parameters={"n": 2}))
    steps = Steps("s")
    with pytest.raises(ValidationError, match="already has a step called 'b'"):  # inside one parallel group
        steps.add([Step("b", t, parameters={"n": 1}), Step("b", t, parameters={"n": 2})])
    assert steps.steps == []
    steps.add(Step("b", t, parameters={"n": 1}))

    # the lists are the user's: changed by hand, add() still sees every name, and the compiler refuses a
    # name given twice (Argo would refuse the manifest) before any work
    dag.tasks.append(Task("c", t, parameters={"n": 3}))
    with pytest.raises(ValidationError, match="already has a task called 'c'"):
        dag.add(Task("c", t, parameters={"n": 4}))
    dag.tasks.append(Task("a", t, parameters={"n": 5}))
    with pytest.raises(ValidationError, match=r"DAG 'd' has more than one task called 'a'.*rename one"):
        Workflow("twice", dag=dag).compile()
    steps.steps.append([Step("b", t, parameters={"n": 2})])
    with pytest.raises(ValidationError, match=r"Steps 's' has more than one step called 'b'"):
        Workflow("twice", steps=steps).compile()
    steps.steps[-1][0].name = "b2"  # renamed: compiles
    assert [s.name for g in Workflow("once", steps=steps).compile().template("s").steps for s in g] == ["b", "b2"]


def test_function_op_calls_are_numbered_past_names_already_taken():
    from dflow.python import OP

    @OP.function
    def add(a: int, b: int) -> {"c": int}:
        return {"c": a + b}

    with DAG("calls") as dag:
        add(a=1, b=2)
        dag.add(Task("add-3", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        for i in range(3):
            add(a=i, b=i)
    assert [t.name for t in dag.tasks] == ["add", "add-3", "add-2", "add-4", "add-5"]


def test_a_step_renamed_after_it_was_added_frees_its_old_name():
    t = PythonOPTemplate(ops.AddOne)
    dag, steps = DAG("d"), Steps("s")
    first, one = Task("a", t, parameters={"n": 1}), Step("a", t, parameters={"n": 1})
    dag.add(first)
    steps.add(one)
    first.name, one.name = "a1", "a1"
    dag.add(Task("a", t, parameters={"n": 2}))
    steps.add(Step("a", t, parameters={"n": 2}))
    with pytest.raises(ValidationError, match="already has a task called 'a1'"):
        dag.add(Task("a1", t, parameters={"n": 3}))
    with pytest.raises(ValidationError, match="already has a step called 'a1'"):
        steps.add(Step("a1", t, parameters={"n": 3}))
    assert [x.name for x in dag.tasks] == ["a1", "a"] and [g[0].name for g in steps.steps] == ["a1", "a"]
