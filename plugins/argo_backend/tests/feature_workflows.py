"""Workflows built with the user API, together covering every feature the Argo backend renders.

Each builder returns a ``Workflow``; ``FEATURES`` maps a feature name to its builder.
The OPs come from the ``argo_ops`` package, shipped to pods as a ``python_packages`` entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict

import argo_ops as ops

from dflow import (
    DAG,
    Executor,
    InputArtifact,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    Outputs,
    PythonScriptOPTemplate,
    ShellOPTemplate,
    Step,
    Steps,
    Task,
    Workflow,
    argo_len,
    argo_range,
    argo_sequence,
    if_expression,
    upload_artifact,
)
from dflow.python import PythonOPTemplate, Slices

OPS_DIR = os.path.dirname(os.path.abspath(ops.__file__))


def T(op: Any, **kw: Any) -> PythonOPTemplate:
    return PythonOPTemplate(op, python_packages=[OPS_DIR], **kw)


def _upload(tmp: Path, name: str, text: str) -> Any:
    p = tmp / name
    p.write_text(text)
    return upload_artifact(str(p))


def steps_and_artifacts(tmp: Path) -> Workflow:
    """Steps, parameters of several types, an uploaded artifact, artifacts between steps."""
    art = _upload(tmp, "foo.txt", "hi")
    s0 = Step("s0", T(ops.Hello), parameters={"msg": "a", "n": 1}, artifacts={"foo": art})
    s1 = Step(
        "s1",
        T(ops.Hello),
        parameters={"msg": s0.outputs.parameters["msg"], "n": s0.outputs.parameters["n"]},
        artifacts={"foo": s0.outputs.artifacts["bar"]},
    )
    wf = Workflow(
        "steps-artifacts",
        parameters={"greeting": "hello", "count": 3},
        labels={"team": "x"},
        annotations={"note": "n"},
        parallelism=4,
    )
    wf.add(s0)
    wf.add(s1)
    return wf


def dag(tmp: Path) -> Workflow:
    """A DAG: dependencies from data flow and given explicitly."""
    d = DAG(name="diamond")
    a = Task("a", T(ops.add), parameters={"a": 1, "b": 2})
    b = Task("b", T(ops.add), parameters={"a": a.outputs.parameters["sum"], "b": 10})
    c = Task("c", T(ops.add), parameters={"a": a.outputs.parameters["sum"], "b": 20})
    e = Task("e", T(ops.add), parameters={"a": b.outputs.parameters["sum"], "b": c.outputs.parameters["sum"]})
    f = Task("f", T(ops.square), parameters={"x": 2}, dependencies=[e])
    d.add([a, b, c, e, f])
    d.outputs.parameters["total"] = OutputParameter(value_from_parameter=e.outputs.parameters["sum"])
    return Workflow("dag", dag=d)


def loops(tmp: Path) -> Workflow:
    """with_param over a constant list, argo_range and a step output; with_sequence forms."""
    gen = Step("gen", T(ops.make_list), parameters={"n": 3})
    wf = Workflow("loops")
    wf.add(
        [
            gen,
            Step("const", T(ops.square), parameters={"x": "{{item}}"}, with_param=[1, 2, 3]),
            Step("rng", T(ops.square), parameters={"x": "{{item}}"}, with_param=argo_range(2, 5)),
        ]
    )
    limited = Step(
        "limited",
        T(ops.add),
        parameters={"a": "{{item}}", "b": argo_len(gen.outputs.parameters["items"])},
        with_param=gen.outputs.parameters["items"],
        parallelism=2,
    )
    wf.add(
        [
            limited,
            Step("dyn", T(ops.square), parameters={"x": "{{item}}"}, with_param=gen.outputs.parameters["items"]),
            Step(
                "seq-count", T(ops.square), parameters={"x": "{{item}}"}, with_sequence=argo_sequence(count=3, start=5)
            ),
            Step("seq-end", T(ops.square), parameters={"x": "{{item}}"}, with_sequence=argo_sequence(start=1, end=3)),
            Step(
                "seq-len",
                T(ops.square),
                parameters={"x": "{{item}}"},
                with_sequence=argo_sequence(argo_len(gen.outputs.parameters["items"])),
            ),
        ]
    )
    wf.add(Step("after-limited", T(ops.make_list), parameters={"n": argo_len(limited.outputs.parameters["sum"])}))
    return wf


def conditions(tmp: Path) -> Workflow:
    """when, conditional output parameter and artifact (if_expression), recursion."""
    steps = Steps(name="cond")
    steps.inputs.parameters["threshold"] = InputParameter(type=int)
    steps.outputs.parameters["msg"] = OutputParameter()
    steps.outputs.artifacts["res"] = OutputArtifact()
    small = Step("small", T(ops.write_file), parameters={"name": "s.txt", "text": "small"})
    steps.add(small)
    big = Step(
        "big",
        T(ops.write_file),
        parameters={"name": "b.txt", "text": "big"},
        when="{} < 5".format(steps.inputs.parameters["threshold"]),
    )
    steps.add(big)
    cond = steps.inputs.parameters["threshold"] < 5
    steps.outputs.parameters["msg"].value_from_expression = if_expression(_if=cond, _then="big", _else="small")
    steps.outputs.artifacts["res"].from_expression = if_expression(
        _if=cond, _then=big.outputs.artifacts["out"], _else=small.outputs.artifacts["out"]
    )

    rec = Steps(name="countdown")
    rec.inputs.parameters["i"] = InputParameter(type=int)
    dec = Step("dec", T(ops.add), parameters={"a": rec.inputs.parameters["i"], "b": -1})
    rec.add(dec)
    rec.add(
        Step(
            "again",
            rec,
            parameters={"i": dec.outputs.parameters["sum"]},
            when="{} > 0".format(dec.outputs.parameters["sum"]),
        )
    )
    wf = Workflow("conditions")
    wf.add([Step("main", steps, parameters={"threshold": 3}), Step("recurse", rec, parameters={"i": 3})])
    return wf


def retries_and_timeouts(tmp: Path) -> Workflow:
    """Transient-error retries (template and step level), retry on any failure, timeouts, timeout as transient."""
    wf = Workflow("retries")
    wf.add(
        [
            Step(
                "flaky",
                T(ops.Flaky, retry_on_transient_error=3),
                parameters={"marker": str(tmp / "marker-a"), "fail_times": 2},
            ),
            Step(
                "flaky-step",
                T(ops.Flaky),
                parameters={"marker": str(tmp / "marker-b"), "fail_times": 1},
                retry_on_transient_error=2,
            ),
            Step("sleepy", T(ops.Sleep, timeout=30), parameters={"seconds": 0.1}),
            Step(
                "sleepy-transient",
                T(ops.Sleep),
                parameters={"seconds": 0.1},
                timeout=20,
                retry_on_transient_error=1,
                timeout_as_transient_error=True,
            ),
            Step(
                "any-failure", ShellOPTemplate(name="shell-retry", image="alpine", script="echo hi", retry_on_failure=2)
            ),
        ]
    )
    return wf


def continue_on(tmp: Path) -> Workflow:
    """continue_on_failed / error, continue_on_num_success and continue_on_success_ratio on fan-outs."""
    wf = Workflow("continue-on")
    wf.add(
        [
            Step("may-fail", T(ops.fail_if), parameters={"x": 1, "bad": 1}, continue_on_failed=True),
            Step("may-error", T(ops.fail_if), parameters={"x": 1, "bad": 2}, continue_on_error=True),
            Step(
                "num",
                T(ops.fail_if),
                parameters={"x": "{{item}}", "bad": 2},
                with_param=argo_range(4),
                continue_on_num_success=3,
            ),
            Step(
                "ratio",
                T(ops.fail_if),
                parameters={"x": "{{item}}", "bad": 0},
                with_sequence=argo_sequence(count=4),
                continue_on_success_ratio=0.5,
            ),
        ]
    )
    d = DAG(name="dag-ratio")
    t = Task(
        "fan",
        T(ops.fail_if),
        parameters={"x": "{{item}}", "bad": 1},
        with_param=[0, 1, 2, 3],
        continue_on_success_ratio=0.7,
    )
    after = Task("after", T(ops.square), parameters={"x": 3}, dependencies=[t])
    d.add([t, after])
    wf.add(Step("in-dag", d))
    wf.add(
        Step(
            "sub-ratio",
            T(ops.fail_if, slices=Slices(sub_path=True, input_parameter=["x"], output_parameter=["y"])),
            parameters={"x": [0, 1, 2, 3], "bad": 1},
            continue_on_success_ratio=0.7,
        )
    )
    return wf


def slices(tmp: Path) -> Workflow:
    """Slices over parameters and artifacts, outputs gathered; group_size and pool_size."""
    files = []
    for i in range(3):
        p = tmp / f"in{i}.txt"
        p.write_text(f"f{i}")
        files.append(str(p))
    arts = upload_artifact(files)
    sq = Step(
        "sq",
        T(ops.square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
        parameters={"x": [1, 2, 3, 4]},
        with_param=argo_range(4),
    )
    grouped = Step(
        "grouped",
        T(ops.square, slices=Slices(input_parameter=["x"], output_parameter=["y"], group_size=2, pool_size=2)),
        parameters={"x": [1, 2, 3, 4, 5]},
        with_param=argo_range(3),
    )
    write = Step(
        "write",
        T(ops.write_file, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
        parameters={"name": "w.txt", "text": ["a", "b", "c"]},
        with_param=argo_range(3),
    )
    read_in = Step(
        "read-in",
        T(ops.read_one, slices=Slices(input_artifact=["file"], output_parameter=["text"])),
        artifacts={"file": arts},
        with_param=argo_range(3),
    )
    wf = Workflow("slices")
    wf.add([sq, grouped, write, read_in])
    wf.add(
        [
            Step("sum-sq", T(ops.make_list), parameters={"n": argo_len(sq.outputs.parameters["y"])}),
            Step("echo-grouped", T(ops.make_list), parameters={"n": argo_len(grouped.outputs.parameters["y"])}),
            Step("read-back", T(ops.read_files), artifacts={"files": write.outputs.artifacts["out"]}),
        ]
    )
    return wf


def sub_path_slices(tmp: Path) -> Workflow:
    """Slices(sub_path=True): one pod per item of the sliced inputs (uploaded and generated artifacts)."""
    paths = []
    for i in range(3):
        p = tmp / f"d{i}.txt"
        p.write_text(f"D{i}")
        paths.append(str(p))
    data = upload_artifact(paths, archive=None)
    templ = T(
        ops.Consume,
        slices=Slices(
            sub_path=True,
            input_parameter=["msg"],
            input_artifact=["data"],
            output_parameter=["out", "seen"],
            output_artifact=["log"],
            create_dir=True,
        ),
    )
    uploaded = Step("uploaded", templ, parameters={"msg": ["a", "b", "c"]}, artifacts={"data": data})
    produce = Step("produce", T(ops.Produce), parameters={"n": 2})
    wf = Workflow("subpath-slices")
    wf.add([uploaded, produce])
    wf.add(
        Step("generated", templ, parameters={"msg": ["x", "y"]}, artifacts={"data": produce.outputs.artifacts["files"]})
    )
    return wf


def progress_keys_defaults(tmp: Path) -> Workflow:
    """Progress, keys (constant and per item), default output parameters, optional artifacts."""
    wf = Workflow("misc")
    wf.add(
        [
            Step("progress", T(ops.Progress), parameters={"n": 1}, key="progress-step"),
            Step("keyed", T(ops.square), parameters={"x": "{{item}}"}, with_param=[1, 2], key="sq-{{item}}"),
            Step(
                "default",
                T(ops.maybe_output, output_parameter_default={"v": 0}),
                parameters={"flag": False},
                continue_on_failed=True,
            ),
            Step("optional", T(ops.Optional_)),
        ]
    )
    return wf


class PrefixExecutor(Executor):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def render(self, template: Any) -> Any:
        template.script = f"echo {self.prefix}\n" + template.script
        template.envs = dict(getattr(template, "envs", {}) or {}, PREFIX=self.prefix)
        return template


class LoggingContext:
    def render(self, template: Any) -> Any:
        template.script = template.script + "\necho context-was-here"
        return template


def scripts_executors_contexts(tmp: Path) -> Workflow:
    """Shell and Python script templates with output parameters and artifacts; executors and a context."""
    shell = ShellOPTemplate(
        name="shell",
        image="alpine:3",
        script=(
            "echo {{inputs.parameters.word}} > /tmp/word.txt\n"
            "mkdir -p /tmp/dir && echo x > /tmp/dir/x\n"
            "cat {{inputs.artifacts.data}} > /tmp/copy.txt"
        ),
    )
    shell.inputs.parameters["word"] = InputParameter(value="hi")
    shell.inputs.artifacts["data"] = InputArtifact(path="/tmp/data.txt")
    shell.outputs.parameters["word"] = OutputParameter(value_from_path="/tmp/word.txt", default="none")
    shell.outputs.artifacts["copy"] = OutputArtifact(path="/tmp/copy.txt")
    shell.outputs.artifacts["dir"] = OutputArtifact(path="/tmp/dir", archive=None)
    py = PythonScriptOPTemplate(
        name="pyscript",
        image="python:3.11",
        script=(
            "print('{{inputs.parameters.n}}')\nopen('/tmp/n.txt', 'w').write(str(int('{{inputs.parameters.n}}') * 2))"
        ),
    )
    py.inputs.parameters["n"] = InputParameter(type=int)
    py.outputs.parameters["double"] = OutputParameter(value_from_path="/tmp/n.txt", type=int)
    data = _upload(tmp, "data.txt", "payload")
    wf = Workflow("scripts", context=LoggingContext())
    wf.add(
        [
            Step("shell", shell, parameters={"word": "yo"}, artifacts={"data": data}),
            Step("shell-exec", shell, artifacts={"data": data}, executor=PrefixExecutor("remote")),
            Step("py", py, parameters={"n": 21}),
        ]
    )
    return wf


def kubernetes_settings(tmp: Path) -> Workflow:
    """Node selector, tolerations, requests/limits, image pull policy, template labels and annotations."""
    t = T(
        ops.square,
        image="python:3.10",
        node_selector={"gpu": "yes"},
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        requests={"cpu": "1", "memory": "1Gi"},
        limits={"cpu": "2"},
        image_pull_policy="IfNotPresent",
        annotations={"a": "b"},
        labels={"l": "v"},
        envs={"OMP_NUM_THREADS": "1"},
    )
    wf = Workflow("k8s")
    wf.add(Step("sq", t, parameters={"x": 3}))
    return wf


def identical_templates(tmp: Path) -> Workflow:
    """Twenty steps of equal templates: one Argo template."""
    wf = Workflow("identical")
    for i in range(20):
        wf.add(Step(f"s{i}", T(ops.square), parameters={"x": i}))
    return wf


def global_outputs(tmp: Path) -> Workflow:
    """Global output parameters and artifacts of a Steps template."""
    steps = Steps(name="inner")
    s = Step(
        "w",
        T(ops.write_file, output_artifact_global_name={"out": "the-file"}),
        parameters={"name": "g.txt", "text": "g"},
    )
    steps.add(s)
    steps.outputs.parameters["p"] = OutputParameter(
        value_from_parameter="{{steps.w.outputs.parameters}}" if False else None, value="constant", global_name="gp"
    )
    steps.outputs.artifacts["a"] = OutputArtifact(_from=s.outputs.artifacts["out"], global_name="ga")
    wf = Workflow("globals")
    wf.add(Step("inner", steps))
    return wf


def counted_and_returned(tmp: Path) -> Workflow:
    """Slices counted when the step runs (sub_path over another step's output) and gathered
    outputs returned by Steps and DAG templates (a super-OP's sliced output)."""
    produce = Step("produce", T(ops.Produce), parameters={"n": 3})
    counted = Step(
        "counted",
        T(ops.Consume, slices=Slices(sub_path=True, input_artifact=["data"], output_parameter=["out"],
                                      output_artifact=["log"])),
        parameters={"msg": "m"},
        artifacts={"data": produce.outputs.artifacts["files"]},
    )

    def fan(name: str) -> Step:
        return Step(
            name,
            T(ops.write_file, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
            parameters={"name": "w.txt", "text": ["p", "q"]},
            with_param=argo_range(2),
        )

    inner = Steps(name="inner-steps", outputs=Outputs(artifacts={"all": OutputArtifact()}))
    s = fan("fan")
    inner.add(s)
    inner.outputs.artifacts["all"]._from = s.outputs.artifacts["out"]
    dag = DAG(name="inner-dag", outputs=Outputs(artifacts={"all": OutputArtifact()}))
    t = Task("fan", T(ops.write_file, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
             parameters={"name": "w.txt", "text": ["r", "s", "t"]}, with_param=argo_range(3))
    dag.add(t)
    dag.outputs.artifacts["all"]._from = t.outputs.artifacts["out"]
    by_steps, by_dag = Step("by-steps", inner), Step("by-dag", dag)
    wf = Workflow("counted-returned")
    wf.add([produce, by_steps, by_dag])
    wf.add([
        counted,
        Step("read-steps", T(ops.read_files), artifacts={"files": by_steps.outputs.artifacts["all"]}),
        Step("read-dag", T(ops.read_files), artifacts={"files": by_dag.outputs.artifacts["all"]}),
    ])
    return wf


def _gathering_round(name: str) -> Steps:
    """A Steps template that fans a step out over ``n`` slices and reads back the files they gathered."""
    st = Steps(name=name)
    st.inputs.parameters["n"] = InputParameter(type=int)
    lst = Step("list", T(ops.texts), parameters={"n": st.inputs.parameters["n"]})
    st.add(lst)
    w = Step("w", T(ops.write_file, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
             parameters={"name": "w.txt", "text": lst.outputs.parameters["items"]},
             with_param=argo_range(argo_len(lst.outputs.parameters["items"])))
    st.add(w)
    st.add(Step("r", T(ops.read_files), artifacts={"files": w.outputs.artifacts["out"]}))
    return st


def slices_in_instances(tmp: Path) -> Workflow:
    """A sliced step inside every instance of a Steps template (a recursion that shrinks, a loop of two
    instances at once): each instance gathers only its own slices' outputs."""
    rec = _gathering_round("shrinking")
    dec = Step("dec", T(ops.add), parameters={"a": rec.inputs.parameters["n"], "b": -1})
    rec.add(dec)
    rec.add(Step("again", rec, parameters={"n": dec.outputs.parameters["sum"]},
                 when="{} > 0".format(dec.outputs.parameters["sum"])))
    dag = DAG(name="dag-round")
    dag.inputs.parameters["n"] = InputParameter(type=int)
    lst = Task("list", T(ops.texts), parameters={"n": dag.inputs.parameters["n"]})
    w = Task("w", T(ops.write_file, slices=Slices(input_parameter=["text"], output_artifact=["out"])),
             parameters={"name": "w.txt", "text": lst.outputs.parameters["items"]},
             with_param=argo_range(argo_len(lst.outputs.parameters["items"])))
    dag.add([lst, w, Task("r", T(ops.read_files), artifacts={"files": w.outputs.artifacts["out"]})])
    # a recursion whose rounds call a template holding the fan-out (as dpgen2's loop calls its block)
    outer = Steps(name="outer-loop")
    outer.inputs.parameters["n"] = InputParameter(type=int)
    outer.add(Step("block", _gathering_round("block"), parameters={"n": outer.inputs.parameters["n"]}))
    odec = Step("dec", T(ops.add), parameters={"a": outer.inputs.parameters["n"], "b": -1})
    outer.add(odec)
    outer.add(Step("next", outer, parameters={"n": odec.outputs.parameters["sum"]},
                   when="{} > 0".format(odec.outputs.parameters["sum"])))
    wf = Workflow("slices-in-instances")
    wf.add([Step("recurse", rec, parameters={"n": 3}),
            Step("each", _gathering_round("round"), parameters={"n": "{{item}}"}, with_param=[2, 3]),
            Step("each-dag", dag, parameters={"n": "{{item}}"}, with_param=[1, 2]),
            Step("nested", outer, parameters={"n": 3})])
    return wf


FEATURES: Dict[str, Callable[[Path], Workflow]] = {
    "steps_and_artifacts": steps_and_artifacts,
    "dag": dag,
    "loops": loops,
    "conditions": conditions,
    "retries_and_timeouts": retries_and_timeouts,
    "continue_on": continue_on,
    "slices": slices,
    "sub_path_slices": sub_path_slices,
    "progress_keys_defaults": progress_keys_defaults,
    "scripts_executors_contexts": scripts_executors_contexts,
    "kubernetes_settings": kubernetes_settings,
    "identical_templates": identical_templates,
    "global_outputs": global_outputs,
    "counted_and_returned": counted_and_returned,
    "slices_in_instances": slices_in_instances,
}
