"""The manifest compiler: every feature renders, and every manifest validates against
Argo's v4.1.2 Workflow schema made strict (``additionalProperties: false``), offline."""

from __future__ import annotations

import glob
import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest
import yaml
from _schema import schema_errors
from feature_workflows import FEATURES
from golden import compare

from dflow import Step, Workflow, argo_range
from dflow.backend import ParameterValue, ReusedStep
from dflow.spec import StoredArtifact
from dflow_argo import ArgoBackend, render_file
from dflow_argo.manifest import CHECK_TEMPLATE, SPEC_ANNOTATION, decode_spec_annotation
from dflow_argo.podscript import decode_payload

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EXAMPLES = sorted(glob.glob(os.path.join(REPO, "examples", "*.py")))


def render(name: str, tmp_path) -> Dict[str, Any]:
    wf = FEATURES[name](tmp_path)
    return ArgoBackend().render(wf.compile())


def templates(m: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {t["name"]: t for t in m["spec"]["templates"]}


def steps_of(m: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    out = {}
    for t in m["spec"]["templates"]:
        for g in t.get("steps", []):
            for s in g:
                out[s["name"]] = s
        for s in t.get("dag", {}).get("tasks", []):
            out[s["name"]] = s
    return out


def params(step: Dict[str, Any]) -> Dict[str, str]:
    return {p["name"]: p["value"] for p in step.get("arguments", {}).get("parameters", [])}


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection fails the test: rendering must be offline."""

    def refuse(*args, **kwargs):
        raise AssertionError("rendering tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---------------------------------------------------------------- schema


def test_strict_schema_rejects_a_misspelled_field(tmp_path):
    m = render("steps_and_artifacts", tmp_path)
    assert schema_errors(m) == []
    m["spec"]["templates"][0]["stepz"] = []
    assert any("stepz" in e for e in schema_errors(m))


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_feature_manifest_validates(feature, tmp_path, no_network):
    m = render(feature, tmp_path)
    assert schema_errors(m) == [], feature
    json.dumps(m)  # plain data only


def _render_example(path: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DFLOW_MODE="debug")
    return subprocess.run(
        [sys.executable, "-m", "dflow_argo", path, "--json"],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(path) if False else None,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def example_manifests(tmp_path_factory) -> Dict[str, Any]:
    work = tmp_path_factory.mktemp("examples")
    old = os.getcwd()
    os.chdir(work)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = dict(zip(EXAMPLES, pool.map(_render_example, EXAMPLES)))
    finally:
        os.chdir(old)
    results["workdir"] = str(work)
    return results


@pytest.mark.skipif(not EXAMPLES, reason="no examples/ in this checkout")
@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_renders_and_validates(path, example_manifests):
    res = example_manifests[path]
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads(res.stdout)
    assert schema_errors(m) == [], os.path.basename(path)
    compare(path, m, example_manifests["workdir"])  # and it is the manifest of golden/<example>.yaml


# ---------------------------------------------------------------- the user API entry points


def test_to_dict_and_to_yaml_are_offline(tmp_path, no_network):
    from dflow.settings import config

    config["mode"] = "default"
    config["host"] = "https://argo.invalid:2746"
    wf = FEATURES["steps_and_artifacts"](tmp_path)
    d = wf.to_dict()
    assert d["kind"] == "Workflow" and schema_errors(d) == []
    assert yaml.safe_load(wf.to_yaml()) == d


def test_mode_default_and_argo_select_this_backend():
    from dflow.workflow import get_backend_for_mode

    assert isinstance(get_backend_for_mode("default"), ArgoBackend)
    assert isinstance(get_backend_for_mode("argo"), ArgoBackend)


def test_render_file_of_a_script_with_main_ops(tmp_path, no_network):
    script = tmp_path / "wf.py"
    script.write_text(
        "from dflow import Workflow, Step, config\n"
        "from dflow.python import OP, PythonOPTemplate\n"
        "@OP.function\n"
        "def inc(x: int) -> {'y': int}:\n"
        "    return {'y': x + 1}\n"
        "wf = Workflow('script')\n"
        "wf.add(Step('inc', PythonOPTemplate(inc), parameters={'x': 1}))\n"
        "wf.submit()\n"
        "raise SystemExit('submit() must not return while rendering')\n"
    )
    text = render_file(str(script))
    m = yaml.safe_load(text)
    assert schema_errors(m) == []
    t = templates(m)["inc"]
    payload = decode_payload(t["script"]["source"])
    assert payload["op"]["module"] == "__main__" and "def inc" in payload["op"]["source"]
    # the script source never meets Argo's {{...}} substitution: it is base64 in the payload
    assert "def inc" not in t["script"]["source"]


def test_spec_travels_in_an_annotation(tmp_path):
    wf = FEATURES["dag"](tmp_path)
    spec = wf.compile()
    m = ArgoBackend().render(spec)
    assert decode_spec_annotation(m["metadata"]["annotations"][SPEC_ANNOTATION]) == spec


# ---------------------------------------------------------------- features


def test_steps_parameters_artifacts_and_workflow_settings(tmp_path):
    m = render("steps_and_artifacts", tmp_path)
    assert m["metadata"]["generateName"] == "steps-artifacts-"
    assert m["metadata"]["labels"] == {"team": "x"} and m["metadata"]["annotations"]["note"] == "n"
    assert m["spec"]["parallelism"] == 4
    assert {p["name"]: p["value"] for p in m["spec"]["arguments"]["parameters"]} == {"greeting": "hello", "count": "3"}
    s = steps_of(m)
    assert params(s["s0"]) == {"msg": "a", "n": "1"}
    assert s["s0"]["arguments"]["artifacts"][0]["s3"] == {"key": s["s0"]["arguments"]["artifacts"][0]["s3"]["key"]}
    assert s["s1"]["arguments"]["artifacts"] == [{"name": "foo", "from": "{{steps.s0.outputs.artifacts.bar}}"}]
    t = templates(m)[s["s0"]["template"]]
    arts = {a["name"]: a for a in t["inputs"]["artifacts"]}
    assert arts["foo"]["path"] == "/tmp/inputs/artifacts/foo"
    assert arts["dflow-pkg"]["path"] == "/tmp/dflow-pkg/dflow" and arts["dflow-pkg"]["s3"]["key"].endswith(".tgz")
    assert any(a["name"].startswith("dflow-python-package") for a in t["inputs"]["artifacts"])
    assert {p["name"]: p["valueFrom"]["path"] for p in t["outputs"]["parameters"]} == {
        "msg": "/tmp/outputs/parameters/msg",
        "n": "/tmp/outputs/parameters/n",
    }
    env = {e["name"]: e["value"] for e in t["script"]["env"]}
    assert env["DFLOW_P0"] == "{{inputs.parameters.msg}}"


def test_dag_dependencies_and_outputs(tmp_path):
    m = render("dag", tmp_path)
    d = templates(m)["diamond"]
    tasks = {t["name"]: t for t in d["dag"]["tasks"]}
    assert "dependencies" not in tasks["a"]
    assert tasks["b"]["dependencies"] == ["a"]
    assert sorted(tasks["e"]["dependencies"]) == ["b", "c"]
    assert tasks["f"]["dependencies"] == ["e"]
    assert d["outputs"]["parameters"] == [
        {"name": "total", "valueFrom": {"parameter": "{{tasks.e.outputs.parameters.sum}}"}}
    ]


def test_loops(tmp_path):
    s = steps_of(render("loops", tmp_path))
    assert json.loads(s["const"]["withParam"]) == [1, 2, 3]
    assert s["dyn"]["withParam"] == "{{steps.gen.outputs.parameters.items}}"
    assert s["seq-count"]["withSequence"] == {"start": "5", "count": "3"}
    assert s["seq-end"]["withSequence"] == {"start": "1", "end": "3"}
    assert "withSequence" in s["seq-len"] and "{{" in s["seq-len"]["withSequence"]["count"]


def test_step_parallelism_wraps_the_loop(tmp_path):
    t = templates(render("loops", tmp_path))
    outer = next(x for g in t["loops"]["steps"] for x in g if x["name"] == "limited")
    w = t[outer["template"]]
    assert w["parallelism"] == 2 and "withParam" not in outer
    (inner,) = w["steps"][0]
    lifted = {p["name"]: p["value"] for p in outer["arguments"]["parameters"]}
    # outer references are evaluated by the caller, {{item}} inside the wrapper
    assert sorted(lifted.values()) == [
        "{{=steps['gen'].outputs.parameters['items']}}",
        "{{steps.gen.outputs.parameters.items}}",
    ]
    assert inner["withParam"].startswith("{{inputs.parameters.dflow_ref_")
    assert params(inner)["a"] == "{{item}}" and "inputs.parameters['dflow_ref_" in params(inner)["b"]
    assert w["outputs"]["parameters"] == [
        {"name": "sum", "valueFrom": {"parameter": "{{steps.limited.outputs.parameters.sum}}"}}
    ]


def test_conditions_conditional_outputs_and_recursion(tmp_path):
    m = render("conditions", tmp_path)
    s = steps_of(m)
    assert s["big"]["when"] == "{{inputs.parameters.threshold}} < 5"
    cond = templates(m)["cond"]
    assert "expression" in cond["outputs"]["parameters"][0]["valueFrom"]
    assert "fromExpression" in cond["outputs"]["artifacts"][0]
    assert s["again"]["template"] == "countdown" and "when" in s["again"]


def test_retry_strategies_and_timeouts(tmp_path):
    m = render("retries_and_timeouts", tmp_path)
    s, t = steps_of(m), templates(m)
    flaky = t[s["flaky"]["template"]]
    assert flaky["retryStrategy"] == {"limit": "3", "retryPolicy": "Always", "expression": "lastRetry.exitCode == '3'"}
    assert t[s["flaky-step"]["template"]]["retryStrategy"]["limit"] == "2"
    assert t[s["sleepy"]["template"]]["activeDeadlineSeconds"] == "30"
    st = t[s["sleepy-transient"]["template"]]
    assert st["activeDeadlineSeconds"] == "20" and "deadline" in st["retryStrategy"]["expression"]
    assert t["shell-retry"]["retryStrategy"] == {"limit": "2", "retryPolicy": "Always"}


def test_continue_on_and_success_thresholds(tmp_path):
    m = render("continue_on", tmp_path)
    s, t = steps_of(m), templates(m)
    assert s["may-fail"]["continueOn"] == {"failed": True}
    assert s["may-error"]["continueOn"] == {"error": True}
    assert s["num"]["continueOn"] == {"failed": True}
    check = s["num-check-success"]
    assert check["template"] == CHECK_TEMPLATE
    assert (
        params(check)["min_num"] == "3"
        and params(check)["succeeded"] == "{{steps.num.outputs.parameters.dflow_success}}"
    )
    assert params(s["ratio-check-success"])["min_ratio"] == "0.5"
    # the check runs in the group right after the fan-out
    top = t["continue-on"]["steps"]
    names = [[x["name"] for x in g] for g in top]
    assert (
        names.index(["num-check-success", "ratio-check-success"])
        == names.index(["may-fail", "may-error", "num", "ratio"]) + 1
    )
    # in a DAG, the check depends on the fan-out and later tasks depend on the check
    assert s["fan-check-success"]["dependencies"] == ["fan"]
    assert s["after"]["dependencies"] == ["fan", "fan-check-success"]
    fail_if = t[s["num"]["template"]]
    assert {
        "name": "dflow_success",
        "valueFrom": {"path": "/tmp/outputs/parameters/dflow_success", "default": "0"},
    } in fail_if["outputs"]["parameters"]
    assert CHECK_TEMPLATE in t


def test_slices(tmp_path):
    m = render("slices", tmp_path)
    s, t = steps_of(m), templates(m)
    assert params(s["sq"])["dflow_slice"] == "{{item}}"
    sq_t = t[s["sq"]["template"]]
    assert {"name": "dflow_slice"} in sq_t["inputs"]["parameters"]
    assert decode_payload(sq_t["script"]["source"])["slices"]["output_parameter"] == ["y"]
    # sliced output artifacts of all slices go under one prefix as parts, read back (merged) by later steps
    write_t = t[s["write"]["template"]]
    out = {a["name"]: a for a in write_t["outputs"]["artifacts"]}["out"]
    assert out["s3"]["key"] == "{{inputs.parameters.dflow_group_key}}/out/.dflow-part-{{inputs.parameters.dflow_slice}}"
    assert out["archive"] == {"none": {}}
    assert params(s["write"])["dflow_group_key"] == "{{workflow.name}}/slices/write"
    assert s["read-back"]["arguments"]["artifacts"] == [
        {"name": "files", "s3": {"key": "{{workflow.name}}/slices/write/out"}}
    ]
    # group_size: each pod returns a list; consumers see the flattened list
    assert "flatten" in params(s["echo-grouped"])["n"]
    assert "flatten" not in params(s["sum-sq"])["n"]


def test_progress_keys_defaults_optional(tmp_path):
    m = render("progress_keys_defaults", tmp_path)
    s, t = steps_of(m), templates(m)
    assert params(s["progress"])["dflow_key"] == "progress-step"
    assert params(s["keyed"])["dflow_key"] == "sq-{{item}}"
    keyed_t = t[s["keyed"]["template"]]
    assert {"name": "dflow_key", "value": ""} in keyed_t["inputs"]["parameters"]
    assert {"name": "DFLOW_KEY", "value": "{{inputs.parameters.dflow_key}}"} in keyed_t["script"]["env"]
    d = t[s["default"]["template"]]
    assert d["outputs"]["parameters"][0]["valueFrom"]["default"] == "0"
    o = t[s["optional"]["template"]]
    assert {a["name"]: a.get("optional") for a in o["inputs"]["artifacts"]}["maybe"] is True
    assert {a["name"]: a.get("optional") for a in o["outputs"]["artifacts"]}["opt"] is True
    assert {"name": "k", "value": "7"} in o["inputs"]["parameters"]


def test_scripts_executors_and_contexts(tmp_path):
    m = render("scripts_executors_contexts", tmp_path)
    s, t = steps_of(m), templates(m)
    shell = t[s["shell"]["template"]]
    assert shell["script"]["command"] == ["sh"] and shell["script"]["image"] == "alpine:3"
    assert "{{inputs.parameters.word}}" in shell["script"]["source"]
    assert shell["script"]["source"].endswith("echo context-was-here")
    assert {"name": "word", "valueFrom": {"path": "/tmp/word.txt", "default": "none"}} in shell["outputs"]["parameters"]
    assert {a["name"]: a for a in shell["outputs"]["artifacts"]}["dir"]["archive"] == {"none": {}}
    execd = t[s["shell-exec"]["template"]]
    assert execd["name"] != shell["name"] and execd["script"]["source"].startswith("echo remote")
    assert {"name": "PREFIX", "value": "remote"} in execd["script"]["env"]
    assert t[s["py"]["template"]]["script"]["command"] == ["python3"]


def test_kubernetes_settings(tmp_path):
    t = templates(render("kubernetes_settings", tmp_path))["square"]
    assert t["nodeSelector"] == {"gpu": "yes"}
    assert t["tolerations"][0]["key"] == "gpu"
    assert t["script"]["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}}
    assert t["script"]["imagePullPolicy"] == "IfNotPresent" and t["script"]["image"] == "python:3.10"
    assert t["metadata"] == {"annotations": {"a": "b"}, "labels": {"l": "v"}}
    assert {"name": "OMP_NUM_THREADS", "value": "1"} in t["script"]["env"]


def test_identical_templates_are_emitted_once(tmp_path):
    m = render("identical_templates", tmp_path)
    assert sorted(templates(m)) == ["identical", "square"]
    assert {s["template"] for s in steps_of(m).values()} == {"square"}


def test_global_outputs(tmp_path):
    t = templates(render("global_outputs", tmp_path))
    inner = t["inner"]
    assert inner["outputs"]["parameters"][0]["globalName"] == "gp"
    assert inner["outputs"]["artifacts"][0] == {
        "name": "a",
        "from": "{{steps.w.outputs.artifacts.out}}",
        "globalName": "ga",
    }
    assert t["write-file"]["outputs"]["artifacts"][0]["globalName"] == "the-file"


def test_reused_steps_hand_back_recorded_outputs(tmp_path):
    wf = Workflow("reuse")
    import argo_ops as ops
    from feature_workflows import T

    wf.add(
        [
            Step("a", T(ops.square), parameters={"x": 2}, key="sq-a"),
            Step("b", T(ops.square), parameters={"x": 3}, key="sq-b"),
        ]
    )
    reuse = [ReusedStep(key="sq-a", outputs_parameters={"y": ParameterValue(text="4", type="int")})]
    m = ArgoBackend().compiler(wf.compile(), reuse).render()
    assert schema_errors(m) == []
    s, t = steps_of(m), templates(m)
    assert s["b"]["template"] == "square"
    r = t[s["a"]["template"]]
    assert s["a"]["template"].startswith("dflow-reuse-")
    # no pod: a Steps template whose one step never runs hands back the recorded value
    assert "script" not in r and [[(x["template"], x["when"]) for x in g] for g in r["steps"]] == [
        [("dflow-reused-step", "false")]]
    assert {"name": "dflow-reused-y", "value": "4"} in r["inputs"]["parameters"]
    assert r["outputs"]["parameters"] == [
        {"name": "y", "valueFrom": {"parameter": "{{inputs.parameters.dflow-reused-y}}"}}
    ]
    assert params(s["a"]) == {"dflow_key": "sq-a"}


def test_reused_artifacts_come_from_their_keys(tmp_path):
    import argo_ops as ops
    from feature_workflows import T

    wf = Workflow("reuse-art")
    wf.add(Step("w", T(ops.write_file), parameters={"name": "a", "text": "b"}, key="w"))
    reuse = [ReusedStep(key="w", outputs_artifacts={"out": StoredArtifact(key="wf-1/w/out")})]
    m = ArgoBackend().compiler(wf.compile(), reuse).render()
    assert schema_errors(m) == []
    r = templates(m)[steps_of(m)["w"]["template"]]
    # handed on where it is stored (not downloaded and stored again: a gathered artifact keeps its parts)
    assert r["inputs"]["artifacts"] == [{"name": "out", "s3": {"key": "wf-1/w/out"}}]
    assert r["outputs"]["artifacts"] == [{"name": "out", "from": "{{inputs.artifacts.out}}"}]


def test_reuse_of_keys_rendered_at_run_time(tmp_path):
    """A step whose key has placeholders calls a reuse-or-run wrapper: a branch per reused key it may render
    to (taken when it does), the step itself otherwise; the wrapper's outputs are the taken branch's. A
    reused slice of a fan-out that gathers an artifact copies its part under the new run's prefix."""
    import argo_ops as ops
    from feature_workflows import T

    from dflow.python import Slices

    wf = Workflow("reuse-rt")
    wf.add(Step("sq", T(ops.square), parameters={"x": "{{item}}"}, with_param=[2, 3], key="sq-{{item}}"))
    wf.add(Step("w", T(ops.write_file, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
                parameters={"name": "a", "text": ["x", "y"]}, with_param=argo_range(2), key="w-{{item}}"))
    wf.add(Step("other", T(ops.square), parameters={"x": 1}, key="other-{{workflow.name}}"))
    reuse = [ReusedStep(key="sq-3", outputs_parameters={"y": ParameterValue(text="100", type="int")}),
             ReusedStep(key="w-1", outputs_artifacts={"out": StoredArtifact(key="wf-1/w/out/.dflow-part-1")}),
             ReusedStep(key="unrelated", outputs_parameters={"y": ParameterValue(text="0", type="int")})]
    m = ArgoBackend().compiler(wf.compile(), reuse).render()
    assert schema_errors(m) == []
    s, t = steps_of(m), templates(m)
    assert s["other"]["template"] == "square"  # no reused key fits other-*: the step as it is
    wrapper = t[s["sq"]["template"]]
    assert wrapper["metadata"]["annotations"]["workflows.dflow.io/reuse-or-run"] == "square"
    (group,) = wrapper["steps"]
    assert [(b["name"], b["when"]) for b in group] == [
        ("reused-0", "'{{inputs.parameters.dflow_key}}' == 'sq-3'"),
        ("run", "'{{inputs.parameters.dflow_key}}' != 'sq-3'"),
    ]
    assert group[1]["template"] == "square"
    (y,) = wrapper["outputs"]["parameters"]
    assert y["valueFrom"]["expression"] == ("steps['reused-0'].status == 'Succeeded' ? "
                                            "steps['reused-0'].outputs.parameters['y'] : "
                                            "(steps['run'].outputs.parameters['y'])")
    w = t[s["w"]["template"]]
    pod = t[w["steps"][0][0]["template"]]
    (out,) = pod["outputs"]["artifacts"]
    assert out["archive"] == {"none": {}}
    assert out["s3"]["key"] == "{{inputs.parameters.dflow_group_key}}/out/.dflow-part-{{inputs.parameters.dflow_slice}}"
    assert {p["name"] for p in w["steps"][0][0]["arguments"]["parameters"]} >= {"dflow_key", "dflow_slice"}


# ---------------------------------------------------------------- no credentials


def test_no_credential_in_any_manifest_or_script(tmp_path):
    from dflow.settings import config, s3_config

    secrets = ["AKIA-SECRET-ACCESS-1234", "very-secret-key-5678", "argo-token-9abc"]
    s3_config.update(access_key=secrets[0], secret_key=secrets[1])
    config["token"] = secrets[2]
    for name in FEATURES:
        text = json.dumps(render(name, tmp_path))
        scripts = []
        for t in json.loads(text)["spec"]["templates"]:
            src = t.get("script", {}).get("source", "")
            scripts.append(src)
            if src.startswith("P = "):
                scripts.append(json.dumps(decode_payload(src)))
        for secret in secrets:
            assert secret not in text, (name, secret)
            assert all(secret not in s for s in scripts), (name, secret)
        for t in json.loads(text)["spec"]["templates"]:
            for a in t.get("inputs", {}).get("artifacts", []) + t.get("outputs", {}).get("artifacts", []):
                assert set(a.get("s3", {})) <= {"key"}, a


def test_nothing_is_uploaded_while_rendering(tmp_path):
    from dflow.settings import s3_config

    client = s3_config["storage_client"]
    before = client.list("", recursive=True)
    render("steps_and_artifacts", tmp_path)
    render("slices", tmp_path)
    after = client.list("", recursive=True)
    # upload_artifact() in the builders uploads user data; the renderer itself adds nothing
    assert not [k for k in after if k not in before and "dflow/packages" in k]


# ---------------------------------------------------------------- size and speed


def test_large_workflows_fit_argo_object_limit():
    """The benchmark's workflows: 1,000-step chain and 10,000-slice fan-out, < 1 s and < 1 MB each."""
    import importlib.util
    import time

    spec = importlib.util.spec_from_file_location("bench_argo", os.path.join(REPO, "benchmarks", "bench_argo.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for build in (bench.build_chain, bench.build_fanout):
        wf = build()
        t0 = time.perf_counter()
        m = ArgoBackend().render(wf.compile())
        elapsed = time.perf_counter() - t0
        size = len(json.dumps(m, separators=(",", ":")).encode())
        assert elapsed < 1.0 and size < 1024 * 1024, (build.__name__, elapsed, size)
        assert schema_errors(m) == []


def test_grouped_slices_iterate_over_groups(tmp_path):
    s = steps_of(render("slices", tmp_path))
    # argo_range(3) lists 3 slices; group_size=2 makes 2 pods
    from dflow.expressions import substitute

    assert substitute(s["grouped"]["withParam"], lambda r: None) == "[0,1]"


def test_success_thresholds_need_a_python_op(tmp_path):
    from dflow import ShellOPTemplate, argo_range
    from dflow.errors import ValidationError

    wf = Workflow("thresholds")
    wf.add(
        Step(
            "sh",
            ShellOPTemplate(name="sh", image="alpine", script="true"),
            with_param=argo_range(3),
            continue_on_num_success=2,
        )
    )
    with pytest.raises(ValidationError, match="Python OP template"):
        ArgoBackend().render(wf.compile())


def test_skipped_step_output_reads_its_default(tmp_path):
    """Argo gives a step skipped by ``when`` no outputs: references to an output with a default read it."""
    import argo_ops as ops
    from feature_workflows import T

    t = T(ops.square)
    t.outputs.parameters["y"].default = "it's 0"
    wf = Workflow("skipdefault")
    s = Step("s", t, parameters={"x": 1}, when="1 > 2")
    wf.add(s)
    wf.add(Step("after", T(ops.square), parameters={"x": s.outputs.parameters["y"]}))
    m = ArgoBackend().render(wf.compile())
    assert schema_errors(m) == []
    value = params(steps_of(m)["after"])["x"]
    assert value == "{{=(steps['s'].status == 'Skipped' ? 'it\\'s 0' : steps['s'].outputs.parameters['y'])}}"
    from dflow import expressions as X

    outputs = {"steps.s.status": "Skipped"}
    assert X.substitute(value, lambda r: outputs[r]) == "it's 0"
    outputs = {"steps.s.status": "Succeeded", "steps.s.outputs.parameters.y": "1"}
    assert X.substitute(value, lambda r: outputs[r]) == "1"


MAIN_WITH_SECRETS = '''
from pathlib import Path
from dflow import Step, Workflow, config, s3_config
from dflow.python import OP, PythonOPTemplate

s3_config["access_key"] = "AKIA-PLANTED-IN-MAIN-0001"
s3_config["secret_key"] = "secret-planted-in-main-0002"
config["token"] = "token-planted-in-main-0003"
RUNS = Path({runs!r})
with open(RUNS, "a") as f:  # top-level code: must never run again inside a step
    f.write("ran\\n")
SCALE = 3

def helper(x):
    return x * SCALE

@OP.function
def scaled(x: int) -> {{"y": int}}:
    return {{"y": helper(x)}}

wf = Workflow("main-secrets")
wf.add(Step("s", PythonOPTemplate(scaled), parameters={{"x": 2}}))
wf.submit()
'''


def test_an_op_of_the_submitting_script_ships_without_the_scripts_secrets_or_top_level_code(tmp_path):
    """The OP's source holds what it needs (its helper, a constant, imports), never the script's other code."""
    runs = tmp_path / "runs.txt"
    script = tmp_path / "main_secrets.py"
    script.write_text(MAIN_WITH_SECRETS.format(runs=str(runs)))
    text = render_file(str(script), fmt="json")
    for secret in ("AKIA-PLANTED-IN-MAIN-0001", "secret-planted-in-main-0002", "token-planted-in-main-0003"):
        assert secret not in text
    m = json.loads(text)
    [payload] = [decode_payload(t["script"]["source"]) for t in m["spec"]["templates"]
                 if t.get("script", {}).get("source", "").startswith("P = ")]
    source = payload["op"]["source"]
    for needed in ("def helper", "SCALE = 3", "def scaled", "from dflow.python import OP"):
        assert needed in source
    for absent in ("s3_config", "config[", "wf.submit", "RUNS", "secret", "token"):
        assert absent not in source, absent
    # the spec annotation (the WorkflowSpec, packed) holds the same source, nothing more
    spec = decode_spec_annotation(m["metadata"]["annotations"][SPEC_ANNOTATION])
    assert "secret-planted" not in spec.to_json() and "token-planted" not in spec.to_json()
    assert runs.read_text() == "ran\n"  # rendering ran the script once, as python would


def test_an_executor_render_may_hand_the_step_to_a_kubernetes_object(tmp_path):
    """A render that returns a template with ``resource['manifest']`` makes a resource template
    (what the wlm-operator's SlurmJob pattern needs): the object, its conditions, outputs by jsonPath."""
    from dflow import Executor, ShellOPTemplate
    from dflow.io import OutputParameter
    from dflow.plugins import hookimpl, register_plugin, unregister_plugin

    class Job(Executor):
        name = "k8s-job-test"

    def render(t: Any, options: Dict[str, Any]) -> Any:
        job = {"apiVersion": "example.org/v1", "kind": "Job",
               "metadata": {"generateName": "j-"}, "spec": {"script": t.script, "queue": options.get("queue")}}
        return t.model_copy(update={"resource": {
            "action": "create", "manifest": job, "success_condition": "status.phase == Done",
            "failure_condition": "status.phase == Failed", "set_owner_reference": True,
            "outputs": {"job": {"jsonPath": "{.metadata.name}"}}}})

    class Plugin:
        @hookimpl
        def register_executors(self, register: Any) -> None:
            register("k8s-job-test", Job, render=render)

    name = register_plugin(Plugin())
    try:
        t = ShellOPTemplate(name="sh", image="alpine", script="echo hi")
        t.outputs.parameters["job"] = OutputParameter()
        ex = Job()
        ex.spec_options = lambda: {"queue": "q1"}  # type: ignore[method-assign]
        wf = Workflow(name="res")
        wf.add(Step("s", t, executor=ex))
        m = ArgoBackend().render(wf.compile())
    finally:
        unregister_plugin(name)
    assert schema_errors(m) == []
    (tpl,) = [x for x in m["spec"]["templates"] if "resource" in x]
    r = tpl["resource"]
    assert r["action"] == "create" and r["successCondition"] == "status.phase == Done"
    assert r["setOwnerReference"] is True
    assert yaml.safe_load(r["manifest"])["spec"] == {"script": "echo hi", "queue": "q1"}
    assert tpl["outputs"]["parameters"] == [{"name": "job", "valueFrom": {"jsonPath": "{.metadata.name}"}}]
    assert "script" not in tpl


def test_a_workflow_renders_for_argo_while_the_local_backend_is_selected(tmp_path, no_network):
    """``wf.to_dict()`` in debug mode (as dflow's own tests do before submitting): the manifest
    names the cluster's default repository by key, and an upload kept by the local store on
    this machine becomes an upload of its copy at submission; nothing is contacted."""
    import argo_ops as ops
    from feature_workflows import T

    from dflow import config, s3_config, upload_artifact

    s3_config["storage_client"] = None
    config["mode"] = "debug"
    (tmp_path / "in.txt").write_text("x")
    art = upload_artifact(str(tmp_path / "in.txt"))
    wf = Workflow("debug-render")
    wf.add(Step("r", T(ops.read_one), artifacts={"file": art}))
    m = wf.to_dict()
    assert schema_errors(m) == []
    (arg,) = steps_of(m)["r"]["arguments"]["artifacts"]
    assert set(arg) == {"name", "s3"} and set(arg["s3"]) == {"key"}
    assert arg["s3"]["key"].startswith("dflow/packages/")  # the local copy, uploaded by submit


def _rounds_template():
    """A recursive Steps template whose output may come from its pod or from its next round."""
    import argo_ops as ops
    from feature_workflows import T

    from dflow import InputParameter, OutputArtifact, Steps, if_expression

    rounds = Steps("rounds")
    rounds.inputs.parameters["name"] = InputParameter()
    rounds.inputs.parameters["n"] = InputParameter(value=0)
    rounds.outputs.artifacts["out"] = OutputArtifact()
    w = Step("w", T(ops.write_file), parameters={"name": rounds.inputs.parameters["name"], "text": "x"})
    rounds.add(w)
    again = Step("again", rounds, parameters={"name": rounds.inputs.parameters["name"], "n": 1},
                 when="%s < 1" % rounds.inputs.parameters["n"])
    rounds.add(again)
    rounds.outputs.artifacts["out"].from_expression = if_expression(
        _if=rounds.inputs.parameters["n"] < 1, _then=again.outputs.artifacts["out"], _else=w.outputs.artifacts["out"])
    return rounds


def test_a_sliced_super_op_renders_a_wrapper_that_cuts_and_stacks(tmp_path):
    """Slices on a recursive Steps template: the step calls a wrapper (cut pod, stacking variant, a pod naming
    the slice's stack); in the variant the pod writes under its place in the stack and the recursion calls the
    variant again one level down. The manifest validates, and each new template says what it stands for."""
    from dflow.python import Slices
    from dflow_argo.superops import PLUMBING_ANNOTATION, STANDS_FOR_ANNOTATION

    wf = Workflow("sliced-super-op")
    wf.add(Step("s", _rounds_template(), parameters={"name": ["a", "b"]},
                slices=Slices(input_parameter=["name"], output_artifact=["out"])))
    m = ArgoBackend().render(wf.compile())
    assert schema_errors(m) == []
    ts = templates(m)
    wrapper = ts[steps_of(m)["s"]["template"]]
    assert wrapper["metadata"]["annotations"][STANDS_FOR_ANNOTATION] == "rounds"
    cut, run, mark = (g[0] for g in wrapper["steps"])
    assert PLUMBING_ANNOTATION in ts[cut["template"]]["metadata"]["annotations"]
    variant = ts[run["template"]]
    assert variant["metadata"]["annotations"][STANDS_FOR_ANNOTATION] == "rounds"
    assert params(run)["dflow_stack_out"] == "{{inputs.parameters.dflow_group_key}}/out/.dflow-stack-{{inputs.parameters.dflow_slice}}"
    inner = {s["name"]: s for g in variant["steps"] for s in g}
    assert inner["again"]["template"] == variant["name"]  # the recursion stacks too
    assert params(inner["again"])["dflow_stack_out"] == "{{inputs.parameters.dflow_stack_out}}/.dflow-stack-1"
    pod = ts[inner["w"]["template"]]
    assert pod["metadata"]["annotations"][STANDS_FOR_ANNOTATION] == "write-file"
    out = next(a for a in pod["outputs"]["artifacts"] if a["name"] == "out")
    assert out["archive"] == {"none": {}} and "{{inputs.parameters.dflow_stack_out}}" in json.dumps(out)
    assert mark["arguments"]["parameters"][0]["value"] == params(run)["dflow_stack_out"]


def test_a_looped_super_op_feeding_a_sliced_output_is_refused_by_name(tmp_path):
    """What the stacking cannot follow on Argo is refused when the workflow is rendered, naming the step."""
    from dflow import DAG, InputParameter, OutputArtifact, Task, argo_range
    from dflow.errors import ValidationError
    from dflow.python import Slices

    outer = DAG("outer")
    outer.outputs.artifacts["out"] = OutputArtifact()
    loop = Task("loop", _rounds_template(), parameters={"name": "{{item}}"}, with_param=argo_range(2))
    outer.add(loop)
    outer.outputs.artifacts["out"]._from = loop.outputs.artifacts["out"]
    outer.inputs.parameters["k"] = InputParameter()
    wf = Workflow("looped")
    wf.add(Step("s", outer, parameters={"k": [1, 2]}, slices=Slices(input_parameter=["k"], output_artifact=["out"])))
    with pytest.raises(ValidationError, match="step 'loop' of 'outer': a looped or sliced steps template"):
        ArgoBackend().render(wf.compile())


def test_step_names_made_from_artifact_names_are_valid_argo_names(tmp_path):
    """Argo allows only alpha-numerics and '-' in step names; an artifact name may hold '_' (dpgen2's
    ``traj_results``): the pod naming a gathered artifact's prefix gets a fitting name, distinct per artifact."""
    import argo_ops as ops
    from feature_workflows import T

    from dflow.python import Slices

    wf = Workflow("names")
    w = Step("w", T(ops.write_file, slices=Slices(input_parameter=["name"], output_artifact=["out"])),
             parameters={"name": ["a", "b"], "text": "x"})
    wf.add(w)
    wf.add(Step("r", T(ops.read_files), artifacts={"files": w.outputs.artifacts["out"]}))
    m = ArgoBackend().render(wf.compile())
    assert schema_errors(m) == []
    from dflow_argo.util import step_name_part

    assert step_name_part("traj_results") != step_name_part("traj-results")
    assert step_name_part("traj_results").startswith("traj-results-") and step_name_part("out") == "out"


def test_a_part_of_an_upload_stored_as_one_tarball_is_refused_naming_the_fix(tmp_path, no_network):
    """Argo takes ``.sub_path()`` by its key (``subPath``), which a tarball does not have: refused at render."""
    from dflow import InputArtifact, S3Artifact, ShellOPTemplate
    from dflow.errors import ValidationError

    t = ShellOPTemplate(name="cat", image="alpine", script="cat /tmp/in")
    t.inputs.artifacts["in"] = InputArtifact(path="/tmp/in")
    whole = S3Artifact(key="upload/abc", packed="dflow-archive.tgz")
    wf = Workflow("packed-part")
    wf.add(Step("cat", t, artifacts={"in": whole.sub_path("out/a.txt")}))
    with pytest.raises(ValidationError, match=r"\.sub_path\('out/a.txt'\) of an upload stored as one tarball.*archive=None"):
        ArgoBackend().render(wf.compile())
    unpacked = Workflow("unpacked-part")
    unpacked.add(Step("cat", t, artifacts={"in": S3Artifact(key="upload/abc").sub_path("out/a.txt")}))
    arts = steps_of(ArgoBackend().render(unpacked.compile()))["cat"]["arguments"]["artifacts"]
    assert arts[0]["s3"]["key"].endswith("upload/abc/out/a.txt"), arts
