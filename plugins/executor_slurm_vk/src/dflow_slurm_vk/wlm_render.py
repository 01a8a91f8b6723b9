"""``SlurmJobTemplate`` on Argo: the wlm-operator's virtual-node pattern (user guide 3.1.16).

A step becomes a ``Steps`` template of three steps:

1. ``<name>-prepare``: a pod with the step's inputs writes the job's directory into a
   host path (``/tmp/dflow-slurm/<pod>``): a Python OP's task (the slice cut, uploads
   unpacked, by dflow's container code) with its inputs and dflow's runtime, or the
   script with its ``/tmp`` paths below the job directory (:mod:`.wlm_pods`).
2. ``<name>-run``: a resource template creating the ``SlurmJob`` on the virtual node
   ``node_selector`` names. The operator copies the host path to ``workdir`` on the Slurm
   side (``spec.prepare``), runs the batch script (``header`` + the step), and copies
   ``workdir`` back to a host path (``spec.results``). The step's exit code is recorded
   in the job directory; the batch script itself succeeds, so the results come back.
3. ``<name>-collect``: a pod that puts the results where Argo reads the step's outputs
   (a sliced OP's parts where its fan-out gathers them) and ends with the step's exit code.

The prepare and collect pods run plain images (``prepare_image``, ``collect_image``);
the SlurmJob's node runs ``python3`` 3.8+ for a Python OP. Host paths tie the three to
one Kubernetes node, as in the original dflow.
"""

from __future__ import annotations

import inspect
import shlex
from typing import Any, Dict, List

from dflow.contract import GROUP_KEY_PARAMETER, PYTHON_OP_SCRIPT, SLICE_PARAMETER
from dflow.pod_launch import encode, script_payload
from dflow.spec import (
    ArtifactArgument,
    InputParameterSpec,
    OutputArtifactSpec,
    OutputParameterSpec,
    ScriptTemplateSpec,
    StepSpec,
    StepsTemplateSpec,
)

from . import wlm_pods
from .wlm import slurm_job_manifest

__all__ = ["render_wlm", "HOST_ROOT", "batch_body"]

#: where the staged jobs and their results live on the Kubernetes node
HOST_ROOT = "/tmp/dflow-slurm"
IN_MOUNT, OUT_MOUNT = "/mnt/dflow-slurm-in", "/mnt/dflow-slurm-out"
VOL_PARAM, JOB_PARAM = "dflow_vol_path", "dflow_job"


def _pod_script(call: str, spec: Dict[str, Any]) -> str:
    """A self-contained pod script: :mod:`.wlm_pods` and one call of it."""
    return (f"{inspect.getsource(wlm_pods)}\n\n# dflow: the step of a wlm-operator virtual node\n"
            f"import base64 as _b, json as _j, zlib as _z\n"
            f"SPEC = _j.loads(_z.decompress(_b.b64decode({encode(spec)!r})).decode())\n{call}\n")


def _host_volume(name: str, path: str, mount: str) -> Dict[str, Any]:
    return {"volumes": [{"name": name, "hostPath": {"path": path, "type": "DirectoryOrCreate"}}],
            "mounts": [{"name": name, "mountPath": mount}]}


def batch_body(command: List[str], python_op: bool, env: Dict[str, str]) -> str:
    """What the batch script runs in the job directory (after ``header`` and ``cd``)."""
    lines = ['J="$(pwd)"',
             'for f in task.json script; do [ -f "$f" ] && sed -i "s#@@DFLOW_JOB_DIR@@#$J#g" "$f"; done']
    for k, v in sorted(env.items()):
        lines.append(f"export {k}={shlex.quote(v)}")
    if python_op:
        lines.append('export PYTHONPATH="$J/.dflow-runtime" DFLOW_TASK="$J/task.json"')
    run = " ".join(shlex.quote(c) for c in command)
    lines.append(f'(cd workdir && {run} "$J/script") > "$J/log.txt" 2>&1 < /dev/null')
    lines.append('echo $? > "$J/.dflow-exit"')
    return "\n".join(lines)


def render_wlm(t: ScriptTemplateSpec, options: Dict[str, Any]) -> List[Any]:
    """The three templates of the virtual-node pattern and the Steps template that calls them."""
    op = t.python_op
    slices = op.slices if op is not None else None
    prep_name, run_name, col_name = f"{t.name}-prepare", f"{t.name}-run", f"{t.name}-collect"
    command = list(options.get("remote_command") or (["python3"] if op is not None else (t.command or ["sh"])))
    workdir = str(options.get("workdir") or "dflow/workflows/{{workflow.name}}/{{pod.name}}")
    own = {SLICE_PARAMETER, GROUP_KEY_PARAMETER}
    params = [p for p in t.inputs_parameters if p.name not in own]

    # 1. prepare: the step's inputs into the job directory on the node's host path
    if op is not None:
        spec: Dict[str, Any] = {"python_op": True, "host_root": HOST_ROOT, "script": PYTHON_OP_SCRIPT}
        cut = slices.model_copy(update={"output_parameter": [], "output_artifact": []}) if slices else None
        prepare = t.model_copy(update={
            "name": prep_name, "executor": None, "retry": None, "timeout": None,
            "python_op": op.model_copy(update={"slices": cut}),
            "outputs_parameters": [OutputParameterSpec(name=VOL_PARAM, value_from_path=f"/tmp/outputs/parameters/{VOL_PARAM}")],
            "outputs_artifacts": [], "image": options.get("prepare_image"), "command": ["python3"],
            "script": _pod_script(f"stage({IN_MOUNT!r}, SPEC)", spec),
            "k8s": _host_volume("dflow-slurm-in", HOST_ROOT, IN_MOUNT)})
    else:
        payload, refs = script_payload(t)
        spec = {"python_op": False, "host_root": HOST_ROOT, **payload}
        prepare = ScriptTemplateSpec(
            name=prep_name, inputs_parameters=params, inputs_artifacts=list(t.inputs_artifacts),
            outputs_parameters=[OutputParameterSpec(name=VOL_PARAM, value_from_path=f"/tmp/outputs/parameters/{VOL_PARAM}")],
            image=options.get("prepare_image"), command=["python3"], env={**t.env, **refs},
            script=_pod_script(f"stage({IN_MOUNT!r}, SPEC)", spec), k8s=_host_volume("dflow-slurm-in", HOST_ROOT, IN_MOUNT))
    if options.get("prepare_image_pull_policy"):
        prepare.k8s["image_pull_policy"] = options["prepare_image_pull_policy"]

    # 2. run: the SlurmJob on the virtual node
    body = batch_body(command, op is not None, {} if op is None else dict(t.env))
    manifest = slurm_job_manifest(
        options.get("header", ""), body, workdir, options.get("node_selector"),
        prepare={"to": workdir, "mount": {"name": "dflow-slurm-in",
                                           "hostPath": {"path": "{{inputs.parameters.%s}}" % VOL_PARAM,
                                                        "type": "Directory"}}},
        results={"from": workdir, "mount": {"name": "dflow-slurm-out",
                                             "hostPath": {"path": f"{HOST_ROOT}/results", "type": "DirectoryOrCreate"}}})
    run = ScriptTemplateSpec(
        name=run_name, inputs_parameters=[InputParameterSpec(name=VOL_PARAM)],
        outputs_parameters=[OutputParameterSpec(name=JOB_PARAM)], timeout=t.timeout,
        resource={"action": "create", "manifest": manifest, "success_condition": "status.status == Succeeded",
                  "failure_condition": "status.status == Failed", "set_owner_reference": True,
                  "outputs": {JOB_PARAM: {"jsonPath": "{.metadata.name}"}}})

    # 3. collect: the results where Argo reads the step's outputs
    col_spec = {"python_op": op is not None, "outputs": spec.get("outputs", [])}
    col_k8s = _host_volume("dflow-slurm-out", f"{HOST_ROOT}/results", OUT_MOUNT)
    if options.get("collect_image_pull_policy"):
        col_k8s["image_pull_policy"] = options["collect_image_pull_policy"]
    if op is not None:
        kept = slices.model_copy(update={"input_parameter": [], "input_artifact": []}) if slices else None
        call = f"collect({OUT_MOUNT!r}, SPEC, _j.load(open(__import__('os').environ['DFLOW_TASK']))" \
               f"['inputs']['parameters']['{JOB_PARAM}']['text'])"
        collect = t.model_copy(update={
            "name": col_name, "executor": None, "retry": None, "timeout": None,
            "inputs_parameters": [InputParameterSpec(name=JOB_PARAM, type="str")], "inputs_artifacts": [],
            "python_op": op.model_copy(update={"slices": kept, "python_packages": []}),
            "image": options.get("collect_image"), "command": ["python3"], "script": _pod_script(call, col_spec),
            "k8s": col_k8s})
    else:
        collect = ScriptTemplateSpec(
            name=col_name, inputs_parameters=[InputParameterSpec(name=JOB_PARAM)],
            outputs_parameters=list(t.outputs_parameters), outputs_artifacts=list(t.outputs_artifacts),
            image=options.get("collect_image"), command=["python3"], k8s=col_k8s,
            script=_pod_script("collect(%r, SPEC, %r)" % (OUT_MOUNT, "{{inputs.parameters.%s}}" % JOB_PARAM), col_spec))

    # the Steps template that takes the step's place: same name, inputs and outputs
    passed = {p.name: "{{inputs.parameters.%s}}" % p.name for p in params}
    extra_in: List[InputParameterSpec] = []
    if slices is not None:
        extra_in.append(InputParameterSpec(name=SLICE_PARAMETER))
        passed[SLICE_PARAMETER] = "{{inputs.parameters.%s}}" % SLICE_PARAMETER
    col_params = {JOB_PARAM: "{{steps.%s.outputs.parameters.%s}}" % (run_name, JOB_PARAM)}
    if slices is not None:
        col_params[SLICE_PARAMETER] = passed[SLICE_PARAMETER]
    if slices is not None and slices.output_artifact:
        extra_in.append(InputParameterSpec(name=GROUP_KEY_PARAMETER, value="{{workflow.name}}/" + t.name))
        col_params[GROUP_KEY_PARAMETER] = "{{inputs.parameters.%s}}" % GROUP_KEY_PARAMETER
    steps = [
        [StepSpec(name=prep_name, template=prep_name, parameters=passed,
                  artifacts={a.name: ArtifactArgument(ref="{{inputs.artifacts.%s}}" % a.name)
                             for a in t.inputs_artifacts})],
        [StepSpec(name=run_name, template=run_name,
                  parameters={VOL_PARAM: "{{steps.%s.outputs.parameters.%s}}" % (prep_name, VOL_PARAM)})],
        [StepSpec(name=col_name, template=col_name, parameters=col_params)],
    ]
    main = StepsTemplateSpec(
        name=t.name, inputs_parameters=params + extra_in, inputs_artifacts=list(t.inputs_artifacts),
        outputs_parameters=[OutputParameterSpec(name=p.name, type=p.type, default=p.default, global_name=p.global_name,
                                                value_from_parameter="{{steps.%s.outputs.parameters.%s}}" % (col_name, p.name))
                            for p in t.outputs_parameters],
        outputs_artifacts=[OutputArtifactSpec(name=a.name, global_name=a.global_name, optional=True,
                                              **{"from": "{{steps.%s.outputs.artifacts.%s}}" % (col_name, a.name)})
                           for a in t.outputs_artifacts],
        annotations=dict(t.annotations), labels=dict(t.labels), steps=steps)
    return [main, prepare, run, collect]
