"""Regression tests of API gaps that need no workflow run: imports, signs, names, building steps.

Each test is the smallest piece of code written for the original dflow (as its tests,
examples and dpgen2 write it) that failed here before its cause was fixed; the cause
ids (C01-C24) are those of ``docs/compat-report.md``.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Union

import pytest

from dflow import InputParameter, Inputs, ShellOPTemplate, Step, Steps, Task, Workflow
from dflow.python import OP, OPIO, Artifact, NestedDict, OPIOSign, Parameter, PythonOPTemplate


def _fresh_python(code: str, plugins: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter: import-time behaviour must not depend on this process's imports.
    ``plugins``: load only these plugins (DFLOW_PLUGINS), as where the others are not installed."""
    env = dict(os.environ, **({"DFLOW_PLUGINS": plugins} if plugins else {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


# ---------------------------------------------------------------- C01 signs of str artifacts


@pytest.mark.parametrize("tp", [str, List[str], Set[str], Set[Path], Dict[str, str], NestedDict[str]],
                         ids=["str", "List[str]", "Set[str]", "Set[Path]", "Dict[str,str]", "NestedDict[str]"])
def test_artifact_sign_of_strings_is_accepted(tp):
    assert Artifact(tp).type == tp


# ---------------------------------------------------------------- C02 dflow.config


def test_dflow_config_module_shares_the_config_dict():
    proc = _fresh_python(
        "import dflow\n"
        "from dflow.config import config, s3_config\n"
        "config['mode'] = 'debug'\n"
        "assert dflow.config is config, type(dflow.config)\n"
        "dflow.config['mode'] = 'debug'\n"
        "from dflow import s3_config as s3\n"
        "assert s3 is s3_config\n"
    )
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- C03 plugin modules


def test_importing_a_plugin_module_without_the_plugin_succeeds():
    # dpgen2/utils/bohrium_config.py and dpgen2/utils/step_config.py do this at import time
    proc = _fresh_python(
        "from dflow.plugins import bohrium\n"
        "from dflow.plugins.dispatcher import DispatcherExecutor\n"
        "from dflow import SlurmJobTemplate, SlurmRemoteExecutor, RemoteExecutor\n"
    )
    assert proc.returncode == 0, proc.stderr


def test_using_a_plugin_name_without_the_plugin_names_the_distribution():
    proc = _fresh_python(
        "from dflow.plugins.dispatcher import DispatcherExecutor\n"
        "try:\n"
        "    DispatcherExecutor(host='h', username='u')\n"
        "except Exception as e:\n"
        "    assert 'pip install dflow-dispatcher' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no error')\n",
        plugins="local",
    )
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- C04 public names

# the names user code imports in dflow's tests/examples and in dpgen2 (see the report for the full list)
_USED_NAMES = [
    ("dflow", "copy_artifact"),
    ("dflow.utils", "set_directory"),
    ("dflow.utils", "run_command"),
    ("dflow.utils", "flatten"),
    ("dflow.utils", "catalog_of_artifact"),
    ("dflow.utils", "randstr"),
    ("dflow.python", "HDF5Datasets"),
    ("dflow.python.opio", "HDF5Dataset"),
]


@pytest.mark.parametrize("module,name", _USED_NAMES, ids=[f"{m}.{n}" for m, n in _USED_NAMES])
def test_name_used_by_dflow_users_is_importable(module, name):
    assert hasattr(importlib.import_module(module), name)


def test_set_directory_and_run_command_behave_as_in_dflow(tmp_path, monkeypatch):
    from dflow.utils import run_command, set_directory

    monkeypatch.chdir(tmp_path)
    with set_directory("sub", mkdir=True) as where:
        assert Path.cwd() == where == tmp_path / "sub"
    assert Path.cwd() == tmp_path
    code, out, err = run_command("echo hi")
    assert (code, out) == (0, "hi\n")
    code, out, err = run_command("echo a | tr a b", shell=True)
    assert out == "b\n"
    with pytest.raises(AssertionError):
        run_command([sys.executable, "-c", "raise SystemExit(3)"])


# ---------------------------------------------------------------- C05 sign check


class _TakesNested(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"data": Artifact(NestedDict[Path]), "n": Parameter(int, default=1)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"count": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        return OPIO({"count": len(op_in["data"])})


def test_exec_sign_check_takes_a_list_for_a_nested_dict_artifact():
    # dpgen2's RunDPTrain unit tests call execute() with a list for Artifact(NestedDict[Path])
    out = _TakesNested().execute(OPIO({"data": [Path("a"), Path("b")], "n": 2}))
    assert out["count"] == 2


def test_exec_sign_check_takes_none_for_a_parameter():
    # dflow skips the type check of a None value (dpgen2 passes exploration_report=None)
    out = _TakesNested().execute(OPIO({"data": {"a": Path("a")}, "n": None}))
    assert out["count"] == 1


def test_union_with_hdf5_datasets_is_an_artifact_sign():
    from dflow.python import HDF5Datasets

    assert Artifact(Union[List[Path], HDF5Datasets]).type == Union[List[Path], HDF5Datasets]


# ---------------------------------------------------------------- C06 template names


def test_explicit_template_name_is_lower_cased():
    assert ShellOPTemplate(name="Hello", image="alpine", script="echo hi").name == "hello"


# ---------------------------------------------------------------- C07 context syntax


def test_workflow_add_of_tasks_makes_a_dag():
    wf = Workflow(name="dag-by-tasks")
    t = ShellOPTemplate(name="echo", script="echo hi")
    wf.add(Task(name="a", template=t))
    wf.add(Task(name="b", template=t, dependencies=["a"]))
    spec = wf.compile()
    assert spec.template(spec.entrypoint).kind == "dag"


def test_steps_built_inside_a_steps_block_join_it():
    t = ShellOPTemplate(name="echo", script="echo hi")
    with Steps(name="inner") as steps:
        Step(name="a", template=t)
    assert [s.name for s in steps.all_steps()] == ["a"]


# ---------------------------------------------------------------- C08 keys


def test_literal_key_is_checked_when_the_step_is_built():
    t = ShellOPTemplate(name="echo", script="echo hi")
    with pytest.raises(Exception, match="Bad_Key"):
        Step(name="s", template=t, key="Bad_Key")


# ---------------------------------------------------------------- C10 references as values


def test_input_parameter_can_be_subscripted():
    steps = Steps(name="outer", inputs=Inputs(parameters={"opts": InputParameter(type=dict, value={"k": 1})}))
    item = steps.inputs.parameters["opts"]["k"]
    assert "opts" in str(item) and "k" in str(item)


# ---------------------------------------------------------------- C15 Workflow API


def test_workflow_by_id_is_looked_up_lazily(tmp_path, monkeypatch):
    from dflow import config

    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    wf = Workflow(id="not-submitted-yet")
    assert wf.id == "not-submitted-yet"


@pytest.mark.parametrize("method", ["stop", "suspend", "query_global_outputs"])
def test_workflow_has_the_methods_dpgen2_calls(method):
    assert callable(getattr(Workflow, method, None))


# ---------------------------------------------------------------- templates built from OPs


class _Noop(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({})

    def execute(self, op_in):
        return OPIO({})


def test_template_name_derived_from_an_op_class_is_valid():
    # not a gap: kept so that a change in naming shows here first
    assert PythonOPTemplate(_Noop).name


# ---------------------------------------------------------------- C22, C23 Argo manifests


class _Emit(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"x": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"f": Artifact(Path)})

    def execute(self, op_in):
        return OPIO({"f": Path("f.txt")})


class _Files(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"files": Artifact(List[Path])})

    def execute(self, op_in):
        return OPIO({"files": []})


class _Read(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"f": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({})

    def execute(self, op_in):
        return OPIO({})


def test_argo_manifest_of_a_steps_returning_a_gathered_output():
    pytest.importorskip("dflow_argo", reason="the Argo backend (dflow-argo) renders manifests")
    from dflow import OutputArtifact, Outputs, argo_range
    from dflow.python import Slices

    inner = Steps(name="inner", outputs=Outputs(artifacts={"all": OutputArtifact()}))
    fan = Step(name="fan", template=PythonOPTemplate(_Emit, slices=Slices(input_parameter=["x"], output_artifact=["f"])),
               parameters={"x": [1, 2]}, with_param=argo_range(2))
    inner.add(fan)
    inner.outputs.artifacts["all"]._from = fan.outputs.artifacts["f"]
    wf = Workflow(name="gathered")
    wf.add(Step(name="outer", template=inner))
    assert wf.to_dict()["kind"] == "Workflow"


def test_argo_manifest_of_sub_path_slices_over_a_step_output():
    pytest.importorskip("dflow_argo", reason="the Argo backend (dflow-argo) renders manifests")
    from dflow.python import Slices

    make = Step(name="make", template=PythonOPTemplate(_Files))
    read = Step(name="read", template=PythonOPTemplate(_Read, slices=Slices(sub_path=True, input_artifact=["f"])),
                artifacts={"f": make.outputs.artifacts["files"]})
    wf = Workflow(name="sub-path")
    wf.add(make)
    wf.add(read)
    assert wf.to_dict()["kind"] == "Workflow"


# ---------------------------------------------------------------- expressions written as dflow writes them


def test_if_expression_on_a_parameter_compares_its_text_with_true():
    """A parameter is text on Argo, and Argo's ``?:`` needs a bool: dflow writes ``<param> == 'true'``."""
    from dflow import OutputParameter, if_expression

    flag = InputParameter(type=bool)
    Steps("holder").inputs.parameters["flag"] = flag
    assert "== 'true'" in str(if_expression(_if=flag, _then="a", _else="b"))
    out = OutputParameter()
    Steps("holder2").outputs.parameters["flag"] = out
    assert "== 'true'" in str(if_expression(_if=out, _then="a", _else="b"))
    # a comparison is a bool already: as written
    assert "== 'true'" not in str(if_expression(_if=flag == 1, _then="a", _else="b"))


def test_argo_len_of_an_uploaded_list_is_its_number_of_paths(tmp_path, monkeypatch):
    """dflow knows the length of an uploaded list when the workflow is built: ``argo_len`` is a constant."""
    from dflow import argo_len, argo_range, config, upload_artifact

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    for n in "abc":
        (tmp_path / f"{n}.txt").write_text(n)
    art = upload_artifact(["a.txt", "b.txt", "c.txt"])
    assert str(argo_len(art)) == "{{=3}}"
    assert str(argo_range(argo_len(art))) == "{{=toJson(sprig.untilStep(0, 3, 1))}}"


# ---------------------------------------------------------------- found running APEX's tests and example


def test_modules_of_the_original_import_and_read_as_attributes():
    """APEX annotates with ``dflow.common.S3Artifact`` after a bare ``import dflow``; the original's
    ``dflow.context``, ``dflow.resource``, ``dflow.task`` and ``dflow.slurm`` import too."""
    out = _fresh_python(
        "import dflow\n"
        "assert dflow.common.S3Artifact is dflow.S3Artifact\n"
        "from dflow.common import LocalArtifact, HTTPArtifact, jsonpickle\n"
        "from dflow.context import Context\n"
        "from dflow.resource import Resource\n"
        "from dflow.task import Task\n"
        "from dflow.slurm import SlurmJobTemplate\n"
        "assert Task is dflow.Task and Context is dflow.Context and Resource is dflow.Resource\n"
        "assert dflow.common.import_func('os.path.join') is __import__('os').path.join\n")
    assert out.returncode == 0, out.stderr


def test_settings_of_a_plugin_that_is_not_installed_can_be_set():
    """APEX sets ``bohrium.config[...]`` on every submit, Bohrium or not: a dict, as in dflow."""
    out = _fresh_python("from dflow.plugins import bohrium\nbohrium.config['username'] = None\n"
                        "assert bohrium.config == {'username': None}\n")
    assert out.returncode == 0, out.stderr


def test_a_queried_step_reads_as_a_dict():
    """APEX reads ``step.get('outputs', {}).get('artifacts', {}).get('retrieve_path')`` and
    ``step['outputs']['artifacts']`` (the original's Argo objects are dicts)."""
    from dflow.argo_objects import ArgoStep
    from dflow.backend import StepRecord

    step = ArgoStep(StepRecord(id="n1", name="s", display_name="s", template="t", type="Pod", phase="Succeeded"))
    assert step.get("outputs", {}).get("artifacts", {}).get("retrieve_path") is None
    assert step["outputs"]["artifacts"] == {} and step["phase"] == "Succeeded"
    assert "outputs" in step and "nothing" not in step and step.get("nothing", 1) == 1
    with pytest.raises(KeyError):
        step["nothing"]


# ---------------------------------------------------------------- C34-C40: found by abacustest, dflow-galaxy,
# IR-Raman (spectra_flow) and dflow's tutorials


def test_an_unattached_io_object_compares_without_raising():
    # dflow-galaxy: `metadata[0] not in (Symbol.INPUT_PARAMETER, ...)` where metadata[0] may be an InputArtifact()
    import enum

    import dflow

    class Symbol(enum.IntEnum):
        INPUT = 1

    for obj in (dflow.InputArtifact(), dflow.OutputArtifact(), dflow.InputParameter()):
        assert obj not in (Symbol.INPUT, "x", 2)
        assert obj == obj and not (obj != obj)
    t = ShellOPTemplate(name="cmp", script="echo")
    t.inputs.parameters["n"] = InputParameter()
    assert "inputs.parameters" in str(t.inputs.parameters["n"] == 1)  # attached: still an expression


def test_a_steps_subclass_may_have_an_attribute_called_all_steps():
    # spectra_flow's SuperOP(Steps) has a class attribute `all_steps = {}`
    class Flow(Steps):
        all_steps = {"dipole": object}

    flow = Flow("flow")
    flow.add(Step("echo", template=ShellOPTemplate(name="echo", script="echo hi")))
    with pytest.raises(Exception, match="already has a step called 'echo'"):
        flow.add(Step("echo", template=ShellOPTemplate(name="echo", script="echo hi")))
    assert len(flow.steps) == 1


def test_big_parameter_values_are_not_type_checked(local_run):
    # IR-Raman's BigParameter(Tuple[int]) given (0, 2); abacustest's BigParameter(dict, default={}) given []
    from typing import Tuple

    from dflow.python import BigParameter

    class Frames(OP):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"frames": BigParameter(Tuple[int]), "metrics": BigParameter(dict, default={})})

        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"n": BigParameter(int)})

        @OP.exec_sign_check
        def execute(self, op_in):
            return OPIO({"n": len(op_in["frames"]) + len(op_in["metrics"])})

    assert Frames().execute(OPIO({"frames": (0, 2), "metrics": []}))["n"] == 2
    wf = Workflow(name="big-unchecked")
    wf.add(Step("s", PythonOPTemplate(Frames), parameters={"frames": [0, 2, 4], "metrics": []}))
    wf.compile()  # (the literal check when the step is built lets a BigParameter's value through)
    with pytest.raises(Exception, match="expected int"):  # a plain parameter is still checked
        _compile_one(Step("s", PythonOPTemplate(_add_one), parameters={"n": [1]}))


@OP.function
def _add_one(n: int) -> {"n": int}:
    return {"n": n + 1}


def _compile_one(step):
    wf = Workflow(name="one")
    wf.add(step)
    return wf.compile()


def test_with_param_takes_any_collection_of_items():
    # dflow's tutorial dflow-slices: with_param=range(3)
    step = Step("r", PythonOPTemplate(_add_one), parameters={"n": "{{item}}"}, with_param=range(3))
    assert step.with_param == [0, 1, 2]
    assert Step("g", PythonOPTemplate(_add_one), parameters={"n": "{{item}}"}, with_param=(i for i in "ab")).with_param == ["a", "b"]


def test_grouped_slices_refuse_an_expression_that_is_not_the_items_position():
    from dflow.python import Slices

    t = PythonOPTemplate(_add_one, slices=Slices("int('{{item}}') + 1", input_parameter=["n"], output_parameter=["n"],
                                                 group_size=2))
    with pytest.raises(Exception, match="gives each item its position"):
        _compile_one(Step("s", t, parameters={"n": [1, 2, 3]}, with_param=[0, 1, 2]))
    ok = PythonOPTemplate(_add_one, slices=Slices("int('{{item}}')", input_parameter=["n"], output_parameter=["n"],
                                                  group_size=2))
    _compile_one(Step("s", ok, parameters={"n": [1, 2, 3]}, with_param=["0", "1", "2"]))


@OP.function
def plus1(x: int) -> {"y": int}:
    return {"y": x + 1}


def test_calling_a_function_op_runs_it_outside_a_block_and_adds_a_task_inside_one(local_run):
    # dflow's tutorial dflow-function
    assert plus1(x=1)["y"] == 2 and plus1(4)["y"] == 5
    assert isinstance(plus1(), OP)  # no arguments: an OP object, as for any OP class
    with pytest.raises(TypeError, match="has no input 'z'"):
        plus1(x=1, z=2)
    with pytest.raises(TypeError, match="takes 1 inputs, 2 given"):
        plus1(1, 2)
    with Workflow(name="fop") as wf:
        first = plus1(x=1)
        plus1.use(key="second")(x=first["y"])
    assert wf.query_status() == "Succeeded"
    assert sorted(s.outputs.parameters["y"].value for s in wf.query_step(type="Pod")) == [2, 3]
    assert [s.outputs.parameters["y"].value for s in wf.query_step(key="second")] == [3]


def test_an_outputs_save_key_is_compiled_and_checked():
    # abacustest sets step.template.outputs.artifacts["outputs"].save = [S3Artifact(key=...)]; dflow's
    # output_artifact_save and Artifact(..., save=...) say the same: the key reaches the spec, bad ones are refused
    from dflow import OutputArtifact, S3Artifact
    from dflow.errors import ValidationError

    t = ShellOPTemplate(name="out", script="echo hi > /tmp/o.txt")
    t.inputs.parameters["n"] = InputParameter()
    t.outputs.artifacts["o"] = OutputArtifact(path="/tmp/o.txt")
    assert t.outputs.artifacts["o"].save == []  # dflow's default: a list one may append to
    t.outputs.artifacts["o"].save = [S3Artifact(key="a"), S3Artifact(key="{{workflow.name}}/{{inputs.parameters.n}}")]
    spec = _compile_one(Step("s", t, parameters={"n": 1}))
    assert [a.save_key for t_ in spec.templates if t_.name == "out" for a in t_.outputs_artifacts] == ["{{workflow.name}}/{{inputs.parameters.n}}"]
    for bad, says in (("{{inputs.parameters.m}}/x", r"refers to \{\{inputs.parameters.m\}\}"),
                      ("../up", "relative, without '..'"), ("/abs", "relative")):
        t.outputs.artifacts["o"].save = [S3Artifact(key=bad)]
        with pytest.raises(ValidationError, match=r"template 'out', output artifact 'o': .*" + says):
            _compile_one(Step("s", t, parameters={"n": 1}))
    t.outputs.artifacts["o"].save = [object()]
    with pytest.raises(ValidationError, match="only S3Artifact"):
        _compile_one(Step("s", t, parameters={"n": 1}))
    py = PythonOPTemplate(_Emit, output_artifact_save={"f": S3Artifact(key="k/{{pod.name}}")})
    assert py.outputs.artifacts["f"].save[0].key == "k/{{pod.name}}"


def _merge_tasks(wf):
    """The tasks of the workflow's DAG as Argo gets them: {name: (template, dependencies)}."""
    dag = next(t for t in wf.to_dict()["spec"]["templates"] if "dag" in t)
    return {t["name"]: (t["template"], t.get("dependencies")) for t in dag["dag"]["tasks"]}


def test_a_list_artifact_with_a_step_output_orders_the_dag_and_is_merged_by_a_pod_on_argo():
    # dflow merges a list given as one artifact; an item that is another task's output makes a dependency
    from dflow import S3Artifact

    make = Task(name="make", template=PythonOPTemplate(_Files))
    read = Task(name="read", template=PythonOPTemplate(_Read),
                artifacts={"f": [S3Artifact(key="some/key"), make.outputs.artifacts["files"]]})
    wf = Workflow(name="list-dag")
    wf.add([read, make])
    spec = wf.compile()
    dag = next(t for t in spec.templates if t.kind == "dag")
    assert [t.dependencies for t in dag.tasks if t.name == "read"] == [["make"]]
    assert [a.ref for a in dag.tasks[0].artifacts["f"].items if a.ref] == ["{{tasks.make.outputs.artifacts.files}}"]
    if importlib.util.find_spec("dflow_argo") is None:
        pytest.skip("the Argo backend (dflow-argo) renders manifests")
    tasks = _merge_tasks(wf)  # Argo: a pod merges the items once "make" has run, and "read" reads its output
    assert tasks["read-merge-f"] == ("dflow-merge-artifact-2", ["make"])
    assert tasks["read"] == ("read", ["make", "read-merge-f"])


def test_a_dict_artifact_with_a_nested_step_output_orders_the_dag_and_is_merged_by_a_pod_on_argo():
    # dflow takes a dict given as one artifact (the OP gets it by key); an output deep inside makes a dependency
    from dflow import S3Artifact
    from dflow.errors import ValidationError

    make = Task(name="make", template=PythonOPTemplate(_Files))
    read = Task(name="read", template=PythonOPTemplate(_Read),
                artifacts={"f": {"k": S3Artifact(key="some/key"), "n": {"m": [make.outputs.artifacts["files"]]}}})
    wf = Workflow(name="dict-dag")
    wf.add([read, make])
    spec = wf.compile()
    dag = next(t for t in spec.templates if t.kind == "dag")
    assert [t.dependencies for t in dag.tasks if t.name == "read"] == [["make"]]
    assert dag.tasks[0].artifacts["f"].item_keys == ["k", "n/m"]
    bad = Workflow(name="bad-key")
    bad.add(Task(name="r", template=PythonOPTemplate(_Read), artifacts={"f": {"x/y": S3Artifact(key="k")}}))
    with pytest.raises(ValidationError, match=r"step 'r', artifact 'f': the key 'x/y' of the dict .*cannot name a folder"):
        bad.compile()
    if importlib.util.find_spec("dflow_argo") is None:
        pytest.skip("the Argo backend (dflow-argo) renders manifests")
    assert _merge_tasks(wf)["read-merge-f"] == ("dflow-merge-artifact-2", ["make"])
    # the merging pod's layout keeps a list whose items were all None (its script reads every node's items)
    holes = Workflow(name="holes")
    make3 = Task(name="make", template=PythonOPTemplate(_Files))
    holes.add([make3, Task(name="read", template=PythonOPTemplate(_Read),
                           artifacts={"f": {"a": make3.outputs.artifacts["files"], "b": [None]}})])
    dag = next(t for t in holes.to_dict()["spec"]["templates"] if "dag" in t)
    pod = next(t for t in dag["dag"]["tasks"] if t["name"] == "read-merge-f")
    layout = next(p["value"] for p in pod["arguments"]["parameters"] if p["name"] == "layout")
    assert json.loads(layout) == {"items": [0, {"items": []}], "keys": ["a", "b"]}
    make2 = Task(name="make", template=PythonOPTemplate(_Files))
    with_item = Workflow(name="item-in-list")  # merged once, before the fan-out: an item cannot depend on the slice
    with_item.add([make2, Task(name="r", template=PythonOPTemplate(_Read), with_param=[0, 1],
                               artifacts={"f": [make2.outputs.artifacts["files"].sub_path("{{item}}")]})])
    with pytest.raises(ValidationError, match=r"artifact 'f': an item of the list or dict .* uses \{\{item\}\}"):
        with_item.to_dict()


def test_a_list_merged_when_rendered_is_kept_once_under_one_key(tmp_path, monkeypatch):
    # rendering the same workflow again finds the folder of merged texts (one folder, one key), not another
    import tempfile

    if importlib.util.find_spec("dflow_argo") is None:
        pytest.skip("the Argo backend (dflow-argo) renders manifests")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    wf = Workflow(name="texts")
    wf.add(Step(name="s", template=PythonOPTemplate(_Read), artifacts={"f": ["a", "b"]}))
    renders = [wf.to_dict() for _ in range(2)]
    assert renders[0]["spec"]["templates"] == renders[1]["spec"]["templates"]
    kept = list(tmp_path.glob("dflow-merged-*"))
    assert len(kept) == 1
    assert (kept[0] / "f").read_text() == "a" and (kept[0] / "slice-1" / "f").read_text() == "b"


def test_bad_input_is_also_a_runtime_error_as_in_dflow():
    # the original raises RuntimeError for bad input (an upload of a path that does not exist, ...);
    # code built on it catches that
    from dflow import upload_artifact
    from dflow.errors import ValidationError

    with pytest.raises(RuntimeError, match="does not exist"):
        upload_artifact("/nonexistent/dflow-compat-test")
    assert issubclass(ValidationError, ValueError) and issubclass(ValidationError, RuntimeError)
