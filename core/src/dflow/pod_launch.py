"""A container step handed to a step launcher: for executor plugins whose pod submits the step elsewhere.

An executor plugin's render (``register_executors(..., render=...)``) may turn a step
into a pod that runs the step somewhere else (an HPC job through a batch scheduler). In
that pod, the step is on the container's file contract (Argo's: input artifacts at their
declared paths, outputs read from their declared paths; a Python OP's task built by
:func:`dflow.container.run_in_container`). This module makes a
:class:`~dflow.launcher.PreparedStep` of it below ``root``, runs it with the plugin's
launcher exactly as the local engine would, and puts the outputs back where the
container contract expects them. Standard library only, Python 3.8+ (it runs in pods).

Paths of the container contract are prefixed by ``$DFLOW_SANDBOX_ROOT`` (unset in a
pod), as in :mod:`dflow.container`, so tests run the same code in a directory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import sys
import zlib
from typing import Any, Dict, List, Optional, Tuple

from .contract import PYTHON_OP_SCRIPT, PYTHON_PACKAGES_ARTIFACT, TASK_ENV
from .launcher import PreparedStep, StepLauncher

__all__ = ["pod_path", "python_op_step", "script_step", "run_step", "return_outputs", "encode", "decode",
           "script_payload", "payload_step", "submitting_pod"]

_REF = re.compile(r"\{\{[^{}]+\}\}")


def encode(data: Any) -> str:
    """JSON data as text no template engine touches (compressed, base64)."""
    return base64.b64encode(zlib.compress(json.dumps(data).encode("utf-8"), 9)).decode("ascii")


def decode(text: str) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8"))


def pod_path(path: str) -> str:
    """A path of the container contract (``/tmp/...``) as it is in this pod."""
    return os.environ.get("DFLOW_SANDBOX_ROOT", "") + path


def _copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _dirs(root: str) -> None:
    for d in ("inputs/parameters", "inputs/artifacts", "outputs/parameters", "outputs/artifacts", "workdir"):
        os.makedirs(os.path.join(root, d), exist_ok=True)


def python_op_step(root: str, name: str = "step") -> PreparedStep:
    """The Python OP step whose task ``$DFLOW_TASK`` names, as a prepared step below ``root``.

    The task's inputs and ``python_paths`` are copied below ``root`` and its paths
    rewritten; the original task stays where it is (:func:`return_outputs` reads it).
    """
    with open(os.environ[TASK_ENV]) as f:
        task = json.load(f)
    _dirs(root)
    arts = {}
    for art, entry in (task.get("inputs", {}).get("artifacts") or {}).items():
        src = (entry or {}).get("path")
        if src and os.path.exists(src):
            dst = os.path.join(root, "inputs", "artifacts", art)
            _copy(src, dst)
            arts[art] = {"path": dst}
        else:
            arts[art] = {"path": None}
    task["inputs"]["artifacts"] = arts
    paths = []
    for i, p in enumerate(task.get("python_paths") or []):
        dst = os.path.join(root, "inputs", "artifacts", PYTHON_PACKAGES_ARTIFACT, str(i))
        if os.path.isdir(p):
            _copy(p, dst)
        paths.append(dst)
    task["python_paths"] = paths
    task["outputs_dir"] = os.path.join(root, "outputs")
    task["workdir"] = os.path.join(root, "workdir")
    task["progress_file"] = os.path.join(root, "progress")
    with open(os.path.join(root, "task.json"), "w") as f:
        json.dump(task, f)
    with open(os.path.join(root, "script"), "w") as f:
        f.write(PYTHON_OP_SCRIPT)
    step = task.get("step") or {}
    return PreparedStep(root=root, command=[sys.executable, os.path.join(root, "script")],
                        cwd=os.path.join(root, "workdir"), env={TASK_ENV: os.path.join(root, "task.json")},
                        log_path=os.path.join(root, "log.txt"), task=task, text_files=["task.json", "script"],
                        name=name, workflow_id=str(step.get("workflow") or ""), node_id=str(step.get("name") or name),
                        key=step.get("key"))


def script_step(root: str, script: str, command: List[str], inputs: List[str], outputs: List[str],
                env: Optional[Dict[str, str]] = None, name: str = "step", workflow_id: str = "") -> PreparedStep:
    """A script step of the container contract as a prepared step below ``root``.

    ``inputs`` and ``outputs`` are the declared paths (``/tmp/...``); each lives at
    ``root/workdir/<path>`` and the script is rewritten to match (``paths.json`` records
    the mapping, as the local engine does).
    """
    _dirs(root)
    workdir = os.path.join(root, "workdir")
    mapping: Dict[str, str] = {}
    for p in inputs:
        mapping[p] = os.path.join(workdir, p.lstrip("/"))
        if os.path.exists(pod_path(p)):
            _copy(pod_path(p), mapping[p])
    for p in outputs:
        mapping[p] = os.path.join(workdir, p.lstrip("/"))
        os.makedirs(os.path.dirname(mapping[p]), exist_ok=True)
    for src in sorted(mapping, key=len, reverse=True):
        script = script.replace(src, mapping[src])
    with open(os.path.join(root, "script"), "w") as f:
        f.write(script)
    with open(os.path.join(root, "paths.json"), "w") as f:
        json.dump(mapping, f)
    return PreparedStep(root=root, command=list(command) + [os.path.join(root, "script")], cwd=workdir,
                        env=dict(env or {}), log_path=os.path.join(root, "log.txt"),
                        text_files=["script", "paths.json"], name=name, workflow_id=workflow_id, node_id=name)


def script_payload(template: Any) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """For a render: a script template's step as a payload for :func:`payload_step`, and the env it needs.

    The payload is encoded into the pod's script, where a template engine does not fill
    in references; so each ``{{...}}`` of the script becomes a placeholder, and the pod's
    environment (which Argo does fill in) carries its value. ``template`` is a
    :class:`dflow.spec.ScriptTemplateSpec` without a Python OP.
    """
    refs: Dict[str, str] = {}

    def hold(m: "re.Match[str]") -> str:
        name = refs.setdefault(m.group(0), "DFLOW_REF_%d" % len(refs))
        return "@@%s@@" % name

    text = template.script
    for a in template.inputs_artifacts:
        text = text.replace("{{inputs.artifacts.%s}}" % a.name, a.path or "/tmp/inputs/artifacts/%s" % a.name)
    text = _REF.sub(hold, text)
    outputs = [p.value_from_path for p in template.outputs_parameters if p.value_from_path]
    outputs += [a.path for a in template.outputs_artifacts if a.path]
    payload = {"script": text, "command": list(template.command or ["sh"]), "refs": sorted(refs.values()),
               "inputs": [a.path for a in template.inputs_artifacts if a.path], "outputs": outputs}
    return payload, {name: ref for ref, name in refs.items()}


def submitting_pod(template: Any, main: str, options: Dict[str, Any], image: Optional[str], command: List[str],
                   k8s: Dict[str, Any], env: Optional[Dict[str, str]] = None) -> Any:
    """For a render: ``template`` as a pod whose script calls ``main(options, payload)``.

    ``main`` is the dotted path of the plugin's function run in the pod (``pkg.pod.main``);
    ``options`` (plain JSON, no credentials) and, for a script template, the step's
    payload (:func:`script_payload`) are encoded into the script. A Python OP's pod keeps
    its OP: dflow's container code builds the task and runs this script for it.
    """
    module, _, func = main.rpartition(".")
    boot = "# dflow: this pod submits the step elsewhere\nfrom %s import %s\n%s(%%r, %%r)\n" % (module, func, func)
    env = {**template.env, **(env or {})}
    if template.python_op is not None:
        script = boot % (encode(options), None)
    else:
        payload, refs = script_payload(template)
        env.update(refs)
        script = boot % (encode(options), encode(payload))
    return template.model_copy(update={"image": image or template.image, "command": list(command),
                                       "script": script, "env": env, "k8s": k8s})


def payload_step(root: str, payload: Dict[str, Any], name: str = "step", workflow_id: str = "") -> PreparedStep:
    """In the pod: the step of a :func:`script_payload` payload, its references filled in from the environment."""
    script = payload["script"]
    for ref in payload.get("refs") or []:
        script = script.replace("@@%s@@" % ref, os.environ.get(ref, ""))
    return script_step(root, script, payload["command"], payload["inputs"], payload["outputs"], name=name,
                       workflow_id=workflow_id)


def run_step(launcher: StepLauncher, step: PreparedStep) -> int:
    """Run ``step`` to its end with ``launcher`` (as the local engine does); its log goes to this pod's output."""
    launcher.open(os.path.dirname(step.root))
    try:
        code, timed_out = asyncio.run(launcher.run(step))
    finally:
        launcher.close()
    if os.path.exists(step.log_path):
        with open(step.log_path, errors="replace") as f:
            sys.stdout.write(f.read())
        sys.stdout.flush()
    return 1 if timed_out and code == 0 else code


def return_outputs(step: PreparedStep, outputs: Optional[List[str]] = None) -> None:
    """The step's results where the container contract expects them.

    A Python OP: ``root/outputs`` into the original task's ``outputs_dir``. A script: each
    declared output path from ``root/workdir``.
    """
    if outputs is None:
        with open(os.environ[TASK_ENV]) as f:
            target = json.load(f)["outputs_dir"]
        src = os.path.join(step.root, "outputs")
        if os.path.isdir(src):
            shutil.copytree(src, target, dirs_exist_ok=True)
        err = os.path.join(step.root, "error.json")
        if os.path.exists(err):
            shutil.copy2(err, os.path.join(os.path.dirname(os.path.abspath(target)), "error.json"))
        return
    for p in outputs:
        src = os.path.join(step.root, "workdir", p.lstrip("/"))
        if os.path.exists(src):
            _copy(src, pod_path(p))
