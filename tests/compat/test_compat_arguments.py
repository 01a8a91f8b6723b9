"""C60: keyword arguments. The original's ``Step``, ``Workflow``, templates, ``Slices`` and
``OutputArtifact`` take no ``**kwargs``, so a misspelt argument is a ``TypeError`` there; here
every one was dropped without a word, and so were some of the original's own arguments
(``retry_on_error``, ``pre_script``, ``pod_gc_strategy``, ``image_pull_secrets``, ...).
"""

import os
import signal
from pathlib import Path

import pytest

import dflow
from dflow import DAG, HookStep, OutputArtifact, ShellOPTemplate, Step, Steps, Task, Workflow
from dflow.arguments import arguments_of
from dflow.errors import UnknownArgumentError, ValidationError
from dflow.python import OP, PythonOPTemplate, Slices
from dflow.testing import functions

# the named arguments of the original's constructors (pydflow 1.8.129 and its latest source)
ORIGINAL = {
    Step: "name template parameters artifacts when with_param continue_on_failed continue_on_error "
          "continue_on_num_success continue_on_success_ratio with_sequence key executor use_resource util_image "
          "util_image_pull_policy util_command parallelism slices success_hook running_hook failure_hook",
    Workflow: "name steps dag namespace id uid host token k8s_config_file k8s_api_server context annotations "
              "labels parallelism pod_gc_strategy image_pull_secrets artifact_repo_key parameters on_exit",
    PythonOPTemplate: "op_class image command output_artifact_save output_artifact_archive output_parameter_default "
                      "input_artifact_prefix input_artifact_slices input_parameter_slices output_artifact_slices "
                      "output_parameter_slices output_artifact_global_name output_parameter_global_name slices "
                      "python_packages timeout retry_on_transient_error retry_on_failure retry_on_error "
                      "retry_on_failure_and_error timeout_as_transient_error memoize_key volumes mounts "
                      "image_pull_policy requests limits upload_dflow envs init_containers sidecars tmp_root "
                      "pre_script post_script success_tag create_slice_dir skip_slice_input",
    ShellOPTemplate: "name inputs outputs image command script volumes mounts init_progress timeout "
                     "retry_strategy memoize_key pvcs image_pull_policy annotations labels node_selector "
                     "tolerations affinity requests limits envs init_containers sidecars script_rendered",
    Slices: "slices input_parameter input_artifact output_parameter output_artifact sub_path group_size shuffle "
            "random_seed pool_size pool_timeout register_first_only create_dir raise_for_group",
    Steps: "name inputs outputs steps memoize_key annotations parallelism",
    DAG: "name inputs outputs tasks memoize_key annotations parallelism",
}


def _inert(cls):
    from dflow import step as step_module
    from dflow.python import python_op_template as pt

    return {Step: step_module._STEP_INERT, PythonOPTemplate: pt._PYTHON_INERT, Slices: pt._SLICES_INERT,
            ShellOPTemplate: {"retry_strategy", "script_rendered"}}.get(cls, {})


@pytest.mark.parametrize("cls", list(ORIGINAL), ids=lambda c: c.__name__)
def test_every_argument_of_the_original_is_taken(cls):
    missing = set(ORIGINAL[cls].split()) - set(arguments_of(cls)) - set(_inert(cls))
    assert not missing, f"{cls.__name__} does not take the original's {sorted(missing)}"


def _shell():
    return ShellOPTemplate(name="sh", script="echo")


@pytest.mark.parametrize("build, says", [
    (lambda: Step("s", _shell(), continue_on_fail=True), r"step 's': unknown argument 'continue_on_fail'; did you mean 'continue_on_failed'"),
    (lambda: Task("t", _shell(), dependecies=["a"]), r"task 't': unknown argument 'dependecies'; did you mean 'dependencies'"),
    (lambda: Workflow("w", parallelsm=2), r"workflow 'w': unknown argument 'parallelsm'; did you mean 'parallelism'"),
    (lambda: ShellOPTemplate(name="sh", script="echo", envz={}), r"ShellOPTemplate 'sh': unknown argument 'envz'; did you mean 'envs'"),
    (lambda: PythonOPTemplate(functions.add, retry_on_eror=2), r"PythonOPTemplate 'add': unknown argument 'retry_on_eror'; did you mean 'retry_on_error'"),
    (lambda: PythonOPTemplate(functions.add, cpu_limits="1"), r"'cpu_limits' \(an argument of earlier dflow versions\): give limits=\{'cpu': ...\}"),
    (lambda: Slices(input_parameter=["a"], groupsize=2), r"Slices: unknown argument 'groupsize'; did you mean 'group_size'"),
    (lambda: Steps("st", parralelism=1), r"Steps 'st': unknown argument 'parralelism'; did you mean 'parallelism'"),
    (lambda: DAG("d", task=[]), r"DAG 'd': unknown argument 'task'; did you mean 'tasks'"),
    (lambda: OutputArtifact(path="/tmp/x", globl_name="g"), r"OutputArtifact '/tmp/x': unknown argument 'globl_name'; did you mean 'global_name'"),
], ids=["Step", "Task", "Workflow", "ShellOPTemplate", "PythonOPTemplate", "renamed", "Slices", "Steps", "DAG", "OutputArtifact"])
def test_an_unknown_argument_is_refused_naming_the_closest(build, says):
    with pytest.raises(UnknownArgumentError, match=says) as err:
        build()
    assert isinstance(err.value, TypeError) and isinstance(err.value, ValidationError)  # as Python's, and as bad input


def test_the_originals_arguments_that_mean_nothing_here_are_taken():
    Step("s", _shell(), util_image_pull_policy="Always", success_hook=None)
    PythonOPTemplate(functions.add, upload_dflow=False, tmp_root="/tmp", success_tag=True, create_slice_dir=True,
                     skip_slice_input=True)
    Slices(input_parameter=["a"], shuffle=True, random_seed=3, pool_timeout=10, raise_for_group=True)
    ShellOPTemplate(name="sh", script="echo", script_rendered=True, retry_strategy=None)
    with pytest.raises(ValidationError, match=r"tmp_root='/scratch' is not supported: a step's files are under /tmp"):
        PythonOPTemplate(functions.add, tmp_root="/scratch")
    with pytest.raises(ValidationError, match=r"retry_strategy \(an Argo RetryStrategy object\) is not taken; give "
                                              r"retry_on_failure=N"):
        ShellOPTemplate(name="sh", script="echo", retry_strategy=object())
    with pytest.raises(ValidationError, match=r"step 's': failure_hook must be a HookStep\(template, "
                                              r"parameters=\.\.\., artifacts=\.\.\.\), got Step"):
        Step("s", _shell(), failure_hook=Step("notify", _shell()))


def test_lifecycle_hooks_take_the_original_form_and_render_as_argo_hooks():
    """C61: a step's hooks were dropped with a warning. ``HookStep(template, ...)`` is the original's form
    (no name; here it was ``HookStep(name, template)``), a hook made inside a ``with`` block does not
    join it, and each renders as Argo's hook with the expression dflow gives it. The conformance
    suite's ``HookChecks`` run them on every backend."""
    with Steps("main") as main:
        Step("s", _shell(), success_hook=HookStep(_shell(), parameters={}),
             failure_hook=HookStep(template=_shell()), running_hook=None)
    assert [s.name for g in main.steps for s in g] == ["s"]
    dag = DAG("d")
    dag.add(Task("t", _shell(), running_hook=HookStep(_shell())))
    for entry, scope, name, events in ((main, "steps", "s", {"success": "Succeeded", "failure": "Failed"}),
                                       (dag, "tasks", "t", {"running": "Running"})):
        wf = Workflow("w", steps=entry) if scope == "steps" else Workflow("w", dag=entry)
        spec = wf.compile()
        hooks = spec.template(entry.name).all_steps()[0].hooks
        assert {e: h.name for e, h in hooks.items()} == {e: f"{name}.hooks.{e}" for e in events}
        pytest.importorskip("dflow_argo", reason="the Argo backend plugin renders manifests")
        from dflow.testing.argo_schema import schema_errors

        manifest = wf.to_dict()
        assert schema_errors(manifest) == []
        body = next(t for t in manifest["spec"]["templates"] if t["name"] == entry.name)
        step = body["steps"][0][0] if scope == "steps" else body["dag"]["tasks"][0]
        assert {e: h["expression"] for e, h in step["hooks"].items()} == {
            e: f"{scope}['{name}'].status == '{phase}'" for e, phase in events.items()}


def test_on_exit_is_checked_before_any_work_and_renders_as_argo_on_exit(local_run):
    """C61: ``Workflow(on_exit=template)`` was kept and never run; it is now Argo's exit handler on every
    backend (the conformance suite's ``ExitChecks`` run it). What cannot be one is refused up front."""
    with pytest.raises(ValidationError, match=r"workflow 'w': on_exit must be a template \(a ShellOPTemplate, "
                                              r"PythonOPTemplate, Steps or DAG\) run when the workflow ends, got str"):
        Workflow("w", on_exit="bye")
    needs = PythonOPTemplate(functions.add)
    wf = Workflow("w", on_exit=needs)
    wf.add(Step("s", _shell()))
    with pytest.raises(ValidationError, match=r"the exit handler \(on_exit\) template 'add': input parameter 'a' "
                                              r"has no value, and an exit handler is given no arguments"):
        wf.compile()
    optional = ShellOPTemplate(name="bye", script="ls /tmp/in")
    optional.inputs.artifacts["x"] = dflow.InputArtifact(path="/tmp/in")
    wf = Workflow("w", on_exit=optional)
    wf.add(Step("s", _shell()))
    with pytest.raises(ValidationError, match=r"input artifact 'x' is not optional, .* make it optional"):
        wf.submit()
    assert list(local_run.iterdir()) == []  # refused before anything was written
    # a default given after the template was made counts, as in dflow
    needs.inputs.parameters["a"].value = "{{workflow.status}}"
    needs.inputs.parameters["b"].value = 1
    wf = Workflow("w", on_exit=needs)
    wf.add(Step("s", _shell()))
    assert wf.compile().on_exit == "add"
    pytest.importorskip("dflow_argo", reason="the Argo backend plugin renders manifests")
    from dflow.testing.argo_schema import schema_errors

    manifest = wf.to_dict()
    assert schema_errors(manifest) == []
    assert manifest["spec"]["onExit"] == "add"
    assert "add" in [t["name"] for t in manifest["spec"]["templates"]]


def test_cluster_settings_of_a_workflow_are_checked_and_rendered_for_argo():
    with pytest.raises(ValidationError, match=r"pod_gc_strategy 'OnSuccess' is not one of Argo's strategies: "
                                              r"OnPodCompletion, OnPodSuccess"):
        Workflow("w", pod_gc_strategy="OnSuccess")
    with pytest.raises(ValidationError, match=r"image_pull_secrets takes the names of Kubernetes secrets"):
        Workflow("w", image_pull_secrets=[3])
    wf = Workflow("w", pod_gc_strategy="OnPodSuccess", image_pull_secrets=["regcred"], artifact_repo_key="mine")
    wf.add(Step("s", _shell()))
    assert wf.compile().cluster == {"pod_gc_strategy": "OnPodSuccess", "image_pull_secrets": ["regcred"],
                                    "artifact_repo_key": "mine"}
    pytest.importorskip("dflow_argo", reason="the Argo backend plugin renders manifests")
    from dflow.testing.argo_schema import schema_errors

    manifest = wf.to_dict()
    assert schema_errors(manifest) == []
    spec = manifest["spec"]
    assert spec["podGC"] == {"strategy": "OnPodSuccess"} and spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["artifactRepositoryRef"] == {"key": "mine"}
    plain = Workflow("plain")
    plain.add(Step("s", _shell()))
    assert not {"podGC", "imagePullSecrets", "artifactRepositoryRef"} & set(plain.to_dict()["spec"])


def test_retry_on_error_and_on_failure_and_error_render_for_argo():
    pytest.importorskip("dflow_argo", reason="the Argo backend plugin renders manifests")
    wf = Workflow("retries")
    wf.add([Step("e", PythonOPTemplate(functions.add, name="on-error", retry_on_error=2), parameters={"a": 1, "b": 1}),
            Step("a", PythonOPTemplate(functions.add, name="always", retry_on_failure_and_error=3),
                 parameters={"a": 1, "b": 1})])
    templates = {t["name"]: t for t in wf.to_dict()["spec"]["templates"]}
    assert templates["on-error"]["retryStrategy"] == {"limit": "2", "retryPolicy": "OnError"}
    assert templates["always"]["retryStrategy"] == {"limit": "3", "retryPolicy": "Always"}


@OP.function
def lost_once(counter: str, fail: bool = False) -> {"attempts": int}:
    """Killed by a signal on its first attempt (as a lost pod); raises ValueError every time if ``fail``."""
    n = int(Path(counter).read_text()) + 1 if os.path.exists(counter) else 1
    Path(counter).write_text(str(n))
    if fail:
        raise ValueError("an ordinary failure")
    if n == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"attempts": n}


def test_retry_on_error_retries_a_lost_step_not_a_failed_one(local_run):
    wf = Workflow("lost")
    template = PythonOPTemplate(lost_once, retry_on_error=2)
    wf.add([Step("lost", template, parameters={"counter": str(local_run / "lost.txt")}),
            Step("failed", template, parameters={"counter": str(local_run / "failed.txt"), "fail": True},
                 continue_on_failed=True)])
    wf.submit()
    assert wf.query_step(name="lost")[0].outputs.parameters["attempts"].value == 2
    failed = wf.query_step(name="failed")[0]
    assert failed.phase == "Failed" and (local_run / "failed.txt").read_text() == "1"  # not retried


def test_pre_script_and_post_script_run_around_the_op(local_run):
    # as in the original: pre_script before the OP, post_script after it succeeded; {tmp_root} formatted
    t = PythonOPTemplate(functions.read, pre_script="print('before {tmp_root}')",
                         post_script="print('after')\n")
    Path("note.txt").write_text("hi")
    from dflow import upload_artifact

    wf = Workflow("pre-post")
    wf.add(Step("read", t, artifacts={"f": upload_artifact("note.txt")}, parameters={"suffix": "!"}))
    wf.submit()
    step = wf.query_step(name="read")[0]
    assert step.outputs.parameters["dflow_output"].value == "hi!"
    log = wf.logs(step)
    assert log.index("before /tmp") < log.index("after"), log
    failing = PythonOPTemplate(functions.read, post_script="print('after')\n")
    wf = Workflow("pre-post-fails")
    Path("folder").mkdir()
    Path("folder/a.txt").write_text("a")
    wf.add(Step("read", failing, artifacts={"f": upload_artifact("folder")}))  # read_text() of a folder fails
    wf.submit()
    step = wf.query_step(name="read")[0]
    assert step.phase == "Failed" and "after" not in wf.logs(step)


def test_retry_steps_is_refused_naming_what_to_use_instead():
    # APEX's `apex retry -s STEPS` calls it; the original patches a running workflow's nodes on Argo
    with pytest.raises(ValidationError, match=r"retry_steps\(\['s1'\]\), running given steps of a running "
                                              r"workflow again, is not supported; retry\(\) runs the failed steps"):
        Workflow(id="some-run").retry_steps(["s1"])
