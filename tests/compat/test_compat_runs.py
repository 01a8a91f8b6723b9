"""Regression tests of gaps that showed when a workflow ran on the local backend.

Each test is a few lines of dflow user code; what the original dflow does is in
``docs/compat-report.md`` under the cause named in the section comment.
"""

import os
from pathlib import Path
from typing import List

from dflow import (
    Executor,
    InputArtifact,
    InputParameter,
    Inputs,
    OutputArtifact,
    OutputParameter,
    Outputs,
    ShellOPTemplate,
    Step,
    Steps,
    Workflow,
    argo_range,
    download_artifact,
    upload_artifact,
)
from dflow.python import OP, Artifact, NestedDict, Parameter, PythonOPTemplate, Slices

# ---------------------------------------------------------------- OPs of the repros


@OP.function
def write_named(name: str) -> {"out": Artifact(Path)}:
    Path(name).write_text(name)
    return {"out": Path(name)}


@OP.function
def count(files: Artifact(List[Path])) -> {"n": int}:
    return {"n": len(files)}


@OP.function
def maybe_file(x: Artifact(Path)) -> {"got": str}:
    return {"got": "none" if x is None else "file"}


@OP.function
def first_key(opts: dict) -> {"value": str}:
    return {"value": repr(opts["k"])}


@OP.function
def shape_of(data: Artifact(NestedDict[Path])) -> {"shape": str}:
    # a list (as in dflow, of a subclass of list carrying art_root)
    return {"shape": "list" if isinstance(data, list) and data.art_root else type(data).__name__}


@OP.function
def maybe_output(make: bool) -> {"extra": Artifact(Path, optional=True), "done": bool}:
    if make:
        Path("extra.txt").write_text("x")
        return {"extra": Path("extra.txt"), "done": True}
    return {"done": True}


@OP.function
def env_value() -> {"value": str}:
    return {"value": os.environ.get("COMPAT_EXECUTOR", "unset")}


@OP.function
def write_same_name(v: str) -> {"f": Artifact(Path)}:
    Path("out.txt").write_text(v)
    return {"f": Path("out.txt")}


@OP.function
def double(x: int) -> {"y": int}:
    return {"y": 2 * x}


@OP.function
def add(x: Parameter(int, default=3)) -> {"y": int}:
    return {"y": x + 1}


def _run(wf: Workflow) -> Workflow:
    wf.submit()
    return wf


def _out(wf: Workflow, step: str, name: str, type=None):
    return wf.query_step(name=step, type=type)[0].outputs.parameters[name].value


# ---------------------------------------------------------------- C01


def test_artifact_of_str_reaches_the_op_as_a_string(local_run):
    from compat_str_ops import kind_of

    Path("a.txt").write_text("A")
    wf = Workflow(name="str-art")
    wf.add(Step(name="s", template=PythonOPTemplate(kind_of), artifacts={"f": upload_artifact("a.txt")}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "kind") == "str"


# ---------------------------------------------------------------- C07


def test_leaving_a_workflow_block_submits_the_steps_built_in_it(local_run):
    with Workflow(name="ctx") as wf:
        Step(name="s", template=PythonOPTemplate(double), parameters={"x": 2})
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "y") == 4


# ---------------------------------------------------------------- C08


def test_rendered_key_is_not_held_to_a_rule_dflow_does_not_enforce(local_run):
    # dpgen2 builds "%s--prep-train" % block_id with an empty block id
    steps = Steps(name="keyed", inputs=Inputs(parameters={"block": InputParameter(value="")}))
    steps.add(Step(name="s", template=PythonOPTemplate(double), parameters={"x": 1},
                   key="%s--double" % steps.inputs.parameters["block"]))
    wf = Workflow(name="keys")
    wf.add(Step(name="outer", template=steps))
    _run(wf)
    assert wf.query_status() == "Succeeded"


# ---------------------------------------------------------------- C09


def test_slices_pattern_may_be_a_python_expression(local_run):
    t = PythonOPTemplate(double, slices=Slices("int('{{item}}')", input_parameter=["x"], output_parameter=["y"]))
    wf = Workflow(name="slice-expr")
    wf.add(Step(name="s", template=t, parameters={"x": [1, 2, 3]}, with_param=["0", "1", "2"]))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "y", type="StepGroup") == [2, 4, 6]


# ---------------------------------------------------------------- C10


def test_reference_nested_in_a_dict_parameter_is_filled_in(local_run):
    steps = Steps(name="nested", inputs=Inputs(parameters={"k": InputParameter(type=int, value=7)}))
    steps.add(Step(name="s", template=PythonOPTemplate(first_key),
                   parameters={"opts": {"k": steps.inputs.parameters["k"]}}))
    wf = Workflow(name="nested-ref")
    wf.add(Step(name="outer", template=steps))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "value") == "7"


# ---------------------------------------------------------------- C11


def test_none_given_for_an_artifact_makes_it_optional(local_run):
    # passes once C11 and C19 (None reaching an Artifact(Path) sign) are both fixed
    wf = Workflow(name="none-art")
    wf.add(Step(name="s", template=PythonOPTemplate(maybe_file), artifacts={"x": None}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "got") == "none"


# ---------------------------------------------------------------- C12


def test_list_upload_reaches_a_nested_dict_sign_as_a_list(local_run):
    # passes once C12 and C05 (no type check of NestedDict artifact values) are both fixed
    for n in ("a", "b"):
        Path(n).mkdir()
    wf = Workflow(name="shape")
    wf.add(Step(name="s", template=PythonOPTemplate(shape_of), artifacts={"data": upload_artifact(["a", "b"])}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "shape") == "list"


# ---------------------------------------------------------------- C13


def test_empty_fan_out_gives_an_empty_list_artifact(local_run):
    make = PythonOPTemplate(write_named, slices=Slices("{{item}}", input_parameter=["name"], output_artifact=["out"]))
    wf = Workflow(name="empty-fan-out")
    first = Step(name="make", template=make, parameters={"name": []}, with_param=argo_range(0))
    wf.add(first)
    wf.add(Step(name="count", template=PythonOPTemplate(count), artifacts={"files": first.outputs.artifacts["out"]}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "count", "n") == 0


def test_steps_output_from_an_absent_optional_artifact_is_absent(local_run):
    inner = Steps(name="inner", outputs=Outputs(artifacts={"extra": OutputArtifact()}))
    s = Step(name="m", template=PythonOPTemplate(maybe_output), parameters={"make": False})
    inner.add(s)
    inner.outputs.artifacts["extra"]._from = s.outputs.artifacts["extra"]
    wf = Workflow(name="absent")
    wf.add(Step(name="outer", template=inner))
    _run(wf)
    assert wf.query_status() == "Succeeded"


# ---------------------------------------------------------------- C14


def test_slices_without_with_param_fan_out_over_the_sliced_input(local_run):
    t = PythonOPTemplate(double, slices=Slices(input_parameter=["x"], output_parameter=["y"]))
    wf = Workflow(name="auto-fan-out")
    wf.add(Step(name="s", template=t, parameters={"x": [1, 2, 3]}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "y", type="StepGroup") == [2, 4, 6]


def test_slices_on_a_steps_template(local_run):
    inner = Steps(name="super-op", inputs=Inputs(parameters={"x": InputParameter()}),
                  outputs=Outputs(parameters={"y": OutputParameter()}))
    d = Step(name="d", template=PythonOPTemplate(double), parameters={"x": inner.inputs.parameters["x"]})
    inner.add(d)
    inner.outputs.parameters["y"].value_from_parameter = d.outputs.parameters["y"]
    wf = Workflow(name="super-op-slices")
    wf.add(Step(name="s", template=inner, parameters={"x": [1, 2]}, with_param=argo_range(2),
                slices=Slices(input_parameter=["x"], output_parameter=["y"])))
    _run(wf)
    assert wf.query_status() == "Succeeded"


# ---------------------------------------------------------------- C17


class _EnvByCommand(Executor):
    """Sets a variable by wrapping the command, as HPC executors wrap it in a job script."""

    def render(self, template):
        template.command = ["env", "COMPAT_EXECUTOR=from-command"] + list(template.command)
        return template


def test_executor_render_of_the_command_applies_to_a_python_op(local_run):
    wf = Workflow(name="exec-py")
    wf.add(Step(name="s", template=PythonOPTemplate(env_value), executor=_EnvByCommand()))
    _run(wf)
    assert _out(wf, "s", "value") == "from-command"


# ---------------------------------------------------------------- C18


def test_grouped_slices_keep_every_output_with_the_same_file_name(local_run):
    t = PythonOPTemplate(write_same_name, slices=Slices(input_parameter=["v"], output_artifact=["f"], group_size=2))
    wf = Workflow(name="grouped")
    wf.add(Step(name="s", template=t, parameters={"v": ["a", "b", "c", "d"]}, with_param=argo_range(4)))
    _run(wf)
    group = wf.query_step(name="s", type="StepGroup")[0]
    paths = download_artifact(group.outputs.artifacts["f"], path="got")
    assert sorted(Path(p).read_text() for p in paths) == ["a", "b", "c", "d"]


# ---------------------------------------------------------------- C19


def test_input_marked_optional_on_the_template_reaches_the_op_as_none(local_run):
    t = PythonOPTemplate(maybe_file)
    t.inputs.artifacts["x"].optional = True
    wf = Workflow(name="optional-in")
    wf.add(Step(name="s", template=t))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "got") == "none"


# ---------------------------------------------------------------- C20


def test_uploaded_file_keeps_its_name_inside_the_input_path(local_run):
    Path("a.txt").write_text("A")
    t = ShellOPTemplate(name="cat", script="cat /tmp/inputs/src/a.txt > /tmp/o.txt")
    t.inputs.artifacts["src"] = InputArtifact(path="/tmp/inputs/src")
    t.outputs.parameters["o"] = OutputParameter(value_from_path="/tmp/o.txt")
    wf = Workflow(name="layout")
    wf.add(Step(name="s", template=t, artifacts={"src": upload_artifact("a.txt")}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "s", "o") == "A"


# ---------------------------------------------------------------- C21


def test_seeding_random_does_not_make_workflow_ids_collide(local_run):
    import random

    ids = []
    for _ in range(2):
        random.seed(1)  # as user code and the libraries it uses do
        wf = Workflow(name="seeded")
        wf.add(Step(name="s", template=PythonOPTemplate(double), parameters={"x": 1}))
        _run(wf)
        assert wf.query_status() == "Succeeded"
        ids.append(wf.id)
    assert ids[0] != ids[1]


# ---------------------------------------------------------------- C24


def test_download_returns_only_the_items_of_this_artifact(local_run):
    for name in ("a.txt", "b.txt", "c.txt"):
        Path(name).write_text(name)
    first = upload_artifact(["a.txt", "b.txt"])
    second = upload_artifact(["c.txt"])
    download_artifact(first, path="got")
    got = download_artifact(second, path="got")
    assert [Path(p).name for p in got] == ["c.txt"]


def test_parameter_default_of_a_sign_is_used(local_run):
    # not a gap: Parameter(type, default=...) works; kept as the baseline of the repros above
    wf = Workflow(name="default")
    wf.add(Step(name="s", template=PythonOPTemplate(add)))
    _run(wf)
    assert _out(wf, "s", "y") == 4


@OP.function
def one_round(task: str, round: int) -> {"traj": Artifact(Path), "next": int}:
    out = Path(task) / "traj"  # every round returns a directory of the same name, as dpgen2's OPs do
    out.mkdir(parents=True)
    (out / f"{round}.txt").write_text(f"{task} {round}")
    return {"traj": out, "next": round + 1}


def _rounds(last: int) -> Steps:
    """A recursive super-OP, as dpgen2's CalyEvoStep: each round writes a file, the output
    is the next round's output while there is one, else this round's."""
    from dflow import if_expression

    rounds = Steps(name="rounds", inputs=Inputs(parameters={"task": InputParameter(), "round": InputParameter(value=0)}),
                   outputs=Outputs(artifacts={"traj": OutputArtifact()}))
    work = Step(name="work", template=PythonOPTemplate(one_round),
                parameters={"task": rounds.inputs.parameters["task"], "round": rounds.inputs.parameters["round"]})
    rounds.add(work)
    again = Step(name="again", template=rounds,
                 parameters={"task": rounds.inputs.parameters["task"], "round": work.outputs.parameters["next"]},
                 when="%s < %d" % (work.outputs.parameters["next"], last))
    rounds.add(again)
    rounds.outputs.artifacts["traj"].from_expression = if_expression(
        _if=work.outputs.parameters["next"] < last, _then=again.outputs.artifacts["traj"],
        _else=work.outputs.artifacts["traj"])
    return rounds


def test_sliced_output_of_a_recursive_steps_template_stacks_every_round(local_run):
    wf = Workflow(name="stacked")
    wf.add(Step(name="s", template=_rounds(3), parameters={"task": ["a", "b"]},
                slices=Slices(input_parameter=["task"], output_artifact=["traj"])))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    every = [f"{t}/traj/{r}.txt" for t in "ab" for r in range(3)]
    group = wf.query_step(name="s", type="StepGroup")[0]
    download_artifact(group.outputs.artifacts["traj"], path="got")
    assert sorted(str(p.relative_to("got")) for p in Path("got").rglob("*.txt")) == every
    # as dpgen2 reads it: the first slice's output (dflow stacks every slice's in one place)
    download_artifact(wf.query_step(name="s")[0].outputs.artifacts["traj"], path="slice")
    assert sorted(str(p.relative_to("slice")) for p in Path("slice").rglob("*.txt")) == every


def test_unsliced_recursive_steps_template_gives_its_last_round(local_run):
    wf = Workflow(name="last-round")
    wf.add(Step(name="s", template=_rounds(3), parameters={"task": "a"}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    download_artifact(wf.query_step(name="s")[0].outputs.artifacts["traj"], path="got")
    assert sorted(str(p.relative_to("got")) for p in Path("got").rglob("*.txt")) == ["a/traj/2.txt"]


def test_a_slice_reads_as_its_fan_outs_whole_stack_as_in_dflow(local_run):
    """dflow writes the sliced outputs of every slice to one storage place: a slice's output is all of them."""
    wf = Workflow(name="shared-stack")
    t = PythonOPTemplate(write_named, slices=Slices(input_parameter=["name"], output_artifact=["out"]))
    wf.add(Step(name="s", template=t, parameters={"name": ["x", "y", "z"]}))
    wf.add(Step(name="plain", template=PythonOPTemplate(write_named), parameters={"name": "{{item}}"},
                with_param=["p", "q"]))
    _run(wf)
    first = wf.query_step(name="s")[0]
    assert first.type == "Pod"
    download_artifact(first.outputs.artifacts["out"], path="got")
    assert sorted(p.name for p in Path("got").iterdir() if not p.name.startswith(".")) == ["x", "y", "z"]
    # a loop without Slices keeps each item's own output
    download_artifact(wf.query_step(name="plain")[0].outputs.artifacts["out"], path="plain")
    assert len([p for p in Path("plain").iterdir() if not p.name.startswith(".")]) == 1


def test_sliced_output_of_a_dag_template_stacks_both_branches(local_run):
    from dflow import DAG, Task, if_expression

    dag = DAG(name="two-rounds", inputs=Inputs(parameters={"task": InputParameter()}),
              outputs=Outputs(artifacts={"traj": OutputArtifact()}))
    a = Task(name="a", template=PythonOPTemplate(one_round), parameters={"task": dag.inputs.parameters["task"], "round": 0})
    b = Task(name="b", template=PythonOPTemplate(one_round),
             parameters={"task": dag.inputs.parameters["task"], "round": a.outputs.parameters["next"]})
    dag.add([a, b])
    dag.outputs.artifacts["traj"].from_expression = if_expression(
        _if=b.outputs.parameters["next"] > 0, _then=b.outputs.artifacts["traj"], _else=a.outputs.artifacts["traj"])
    wf = Workflow(name="dag-stacked")
    wf.add(Step(name="s", template=dag, parameters={"task": ["a", "b"]},
                slices=Slices(input_parameter=["task"], output_artifact=["traj"])))
    wf.add(Step(name="one", template=dag, parameters={"task": "c"}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    download_artifact(wf.query_step(name="s", type="StepGroup")[0].outputs.artifacts["traj"], path="got")
    assert sorted(str(p.relative_to("got")) for p in Path("got").rglob("*.txt")) == [
        "a/traj/0.txt", "a/traj/1.txt", "b/traj/0.txt", "b/traj/1.txt"]
    # without Slices the expression chooses, as everywhere
    download_artifact(wf.query_step(name="one")[0].outputs.artifacts["traj"], path="one")
    assert sorted(str(p.relative_to("one")) for p in Path("one").rglob("*.txt")) == ["c/traj/1.txt"]


def test_reusing_a_slice_hands_on_its_own_output_not_the_stack(local_run):
    """dflow's examples/test_loop_slices: a reused slice gives its own file, so the gather has one per slice."""
    def build(name: str) -> Workflow:
        wf = Workflow(name=name)
        t = PythonOPTemplate(write_named, slices=Slices("{{item}}", input_parameter=["name"], output_artifact=["out"]))
        s = Step(name="s", template=t, parameters={"name": ["x", "y"]}, with_param=argo_range(2), key="w-{{item}}")
        wf.add(s)
        wf.add(Step(name="n", template=PythonOPTemplate(count), artifacts={"files": s.outputs.artifacts["out"]}))
        return wf

    first = _run(build("first"))
    slice0 = first.query_step(key="w-0")[0]
    again = build("again")
    again.submit(reuse_step=[slice0])
    assert again.query_status() == "Succeeded"
    assert again.query_step(key="w-0")[0].record.message == "reused"
    assert _out(again, "n", "n") == 2


# ---------------------------------------------------------------- C50


@OP.function
def texts_by_key(data: Artifact(NestedDict[Path])) -> {"texts": dict}:
    return {"texts": {k: [Path(p).read_text() for p in v] for k, v in data.items()}}


def test_a_dict_of_step_outputs_given_as_one_artifact_reaches_the_op_by_key(local_run):
    """The original gives ``{"x": [<a's file>], "y": [<b's file>]}`` (each output a list of its paths),
    and runs the step after both producers."""
    wf = Workflow(name="dict-of-outputs")
    a = Step(name="a", template=PythonOPTemplate(write_named), parameters={"name": "A"})
    b = Step(name="b", template=PythonOPTemplate(write_named), parameters={"name": "A"})  # the same file name
    wf.add([a, b])
    wf.add(Step(name="use", template=PythonOPTemplate(texts_by_key),
                artifacts={"data": {"x": a.outputs.artifacts["out"], "y": b.outputs.artifacts["out"]}}))
    _run(wf)
    assert wf.query_status() == "Succeeded"
    assert _out(wf, "use", "texts") == {"x": ["A"], "y": ["A"]}
