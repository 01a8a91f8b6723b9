"""C59: ``@OP.function``'s return forms and ``@OP.superfunction``, as dflow has them (since 2023).

dflow reads a function OP's return annotation as a dict of outputs, one type (``-> int``:
the output ``dflow_output``), ``typing.Tuple[...]`` (``dflow_output_0``, ...) or a
``NamedTuple`` (its fields); here only the dict forms were taken, and ``-> int`` was
refused when the module was imported. ``OP.superfunction`` (a function calling OPs made
into a DAG) did not exist. The runs are in the conformance suite
(``dflow.testing.functions``, on every backend); these are the parts that need no run.
"""

from pathlib import Path
from typing import Tuple

import pytest

from dflow import DAG, Steps, Task, Workflow
from dflow.errors import ValidationError
from dflow.python import OP, Artifact, OPIOSign
from dflow.testing import functions


def test_a_call_outside_a_block_returns_the_outputs_by_name_in_every_form():
    # as the original: outside a block the call runs the function and gives its outputs by name
    assert functions.add(a=1, b=2) == {"dflow_output": 3}
    assert functions.digits(54) == {"dflow_output_0": 5, "dflow_output_1": 4}
    assert functions.halves(n=7) == {"low": 3, "high": 4}

    @OP.function
    def nothing(x: int):  # no annotation: no outputs, whatever it returns (as dflow)
        return x

    assert nothing(x=1) == {}

    @OP.function
    def signed(x: int) -> OPIOSign({"y": int}):  # an OPIOSign of the outputs, as a dict
        return {"y": x}

    assert signed(x=1) == {"y": 1} and list(signed.get_output_sign()) == ["y"]
    assert list(functions.add.get_output_sign()) == ["dflow_output"]
    assert list(functions.write.get_output_sign()) == ["dflow_output"]
    assert isinstance(functions.write.get_output_sign()["dflow_output"], Artifact)


def test_a_call_inside_a_block_returns_what_the_function_returns():
    with DAG("forms") as dag:
        one = functions.add(a=1, b=2)
        pair = functions.digits(n=one)
        named = functions.halves(n=pair[1])
    assert one.name == "dflow_output" and one._kind == "parameters"
    assert isinstance(pair, tuple) and [p.name for p in pair] == ["dflow_output_0", "dflow_output_1"]
    assert isinstance(named, tuple) and [p.name for p in named] == ["low", "high"]
    assert all(isinstance(t, Task) for t in dag.tasks)
    # named after the function, numbered from the second of a name in the block (the same in every run)
    with DAG("names") as named_dag:
        first = Task("add", template=_template(functions.add), parameters={"a": 1, "b": 1})  # joins the block
        named_dag.add(first)  # and is not added again (it ran once, but was listed twice)
        functions.add(a=1, b=2)
        functions.add(a=1, b=2)
        functions.digits(n=1)
    assert [t.name for t in dag.tasks] == ["add", "digits", "halves"]
    assert [t.name for t in named_dag.tasks] == ["add", "add-2", "add-3", "digits"]


def _template(op):
    from dflow.python import PythonOPTemplate

    return PythonOPTemplate(op)


def test_a_steps_subclass_block_gets_steps():
    # spectra_flow's SuperOP subclasses Steps: a function OP called in its block adds a step, not a task
    class SuperOP(Steps):
        pass

    with SuperOP("super-op") as st:
        functions.add(a=1, b=2)
    assert len(st.steps) == 1 and not isinstance(st.steps[0][0], Task)


def test_bad_return_forms_are_refused_naming_the_fix():
    with pytest.raises(TypeError, match=r"Tuple return annotation .* must list each item's type \(Tuple\[int, str\]\)"):
        @OP.function
        def many(n: int) -> Tuple[int, ...]:
            return (n,)

    @OP.function
    def short(n: int) -> Tuple[int, int]:
        return (n,)

    with pytest.raises(TypeError, match=r"names 2 outputs \(dflow_output_0, dflow_output_1\), so it must return "
                                        r"a tuple of 2 values, returned \(1,\)"):
        short(n=1)


def test_a_superfunction_is_a_dag_with_the_functions_inputs_and_outputs():
    dag = functions.digit_sum
    assert isinstance(dag, DAG) and dag.name == "digit-sum"
    assert list(dag.inputs.parameters) == ["n", "extra"] and dag.inputs.parameters["extra"].value == 0
    assert list(dag.outputs.parameters) == ["sum", "constant", "echo"] and list(dag.outputs.artifacts) == ["note"]
    assert dag.outputs.parameters["echo"].value_from_parameter is dag.inputs.parameters["n"]
    assert dag.outputs.parameters["constant"].value == 7
    assert len(dag.tasks) == 4  # digits, add, add, write
    assert functions.twice.parallelism == 1  # @OP.superfunction(...) gives its arguments to the DAG


def test_a_superfunction_renders_for_argo():
    pytest.importorskip("dflow_argo", reason="the Argo backend plugin renders manifests")
    from dflow.testing.argo_schema import name_errors, schema_errors

    wf = Workflow(name="superfunction")
    first = Task("first", template=functions.digit_sum, parameters={"n": 38})
    wf.add([first, Task("second", template=functions.twice, parameters={"n": first.outputs.parameters["sum"]})])
    manifest = wf.to_dict()
    assert schema_errors(manifest) == [] and name_errors(manifest) == []
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    outputs = {p["name"]: p["valueFrom"] for p in templates["digit-sum"]["outputs"]["parameters"]}
    assert outputs["echo"] == {"parameter": "{{inputs.parameters.n}}"}
    assert outputs["sum"] == {"parameter": "{{tasks.add-2.outputs.parameters.dflow_output}}"} and "constant" in outputs
    assert [a["name"] for a in templates["digit-sum"]["outputs"]["artifacts"]] == ["note"]
    assert {p["name"]: p.get("value") for p in templates["digit-sum"]["inputs"]["parameters"]} == {"n": None, "extra": "0"}
    assert "dag" in templates["twice"] and templates["twice"]["parallelism"] == 1


def test_bad_superfunctions_are_refused_naming_the_output_or_the_fix():
    with pytest.raises(ValidationError, match=r"superfunction 'lacking': its return annotation names the output 'b', "
                                              r"which the function does not return"):
        @OP.superfunction
        def lacking(n: int) -> {"a": int, "b": int}:
            return {"a": functions.add(a=n, b=1)}

    with pytest.raises(ValidationError, match=r"superfunction 'not-art': the output artifact 'f' must be an artifact "
                                              r"of a task or an input of the DAG, the function returns 'f.txt'"):
        @OP.superfunction
        def not_art(n: int) -> {"f": Artifact(Path)}:
            return {"f": "f.txt"}

    with pytest.raises(ValidationError, match=r"superfunction 'digit-sum' is a DAG, which runs as a step of a "
                                              r"workflow: call it inside a `with Workflow"):
        functions.digit_sum(n=1)
    with DAG("d"):
        with pytest.raises(TypeError, match=r"digit-sum\(\) has no input 'm' \(its inputs: n, extra\)"):
            functions.digit_sum(m=1)
