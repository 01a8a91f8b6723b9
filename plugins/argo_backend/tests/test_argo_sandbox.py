"""Compiled pods run for real, without Kubernetes: each feature workflow is rendered to an
Argo manifest and interpreted by ``argo_sandbox`` (Argo's executor file contract, with
every ``/tmp/...`` path remapped into a temporary directory per pod), running each
template's own script - for Python OPs the bootstrap and core's step runtime, loaded from
the shipped ``dflow`` package tarball. The results must equal the local (debug) backend's
for the same workflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from argo_sandbox import Sandbox
from feature_workflows import FEATURES

from dflow.settings import config, s3_config
from dflow_argo import ArgoBackend

SANDBOXED = [
    "steps_and_artifacts",
    "dag",
    "loops",
    "conditions",
    "retries_and_timeouts",
    "continue_on",
    "slices",
    "sub_path_slices",
    "progress_keys_defaults",
    "scripts_executors_contexts",
    "identical_templates",
    "global_outputs",
    "counted_and_returned",
    "slices_in_instances",
]


# pods the manifest adds around steps: success checks, slice counts, gathered-artifact prefixes
ARGO_HELPERS = ("dflow-check-success", "dflow-count-slices", "dflow-gathered-artifact", "dflow-instance-key")


def _decode(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _files(root: Path) -> List[str]:
    """The texts of an artifact's files (a gathered artifact's parts merged, as readers merge them)."""
    import tempfile

    from dflow.contract import merge_stacked

    if root.is_file() and root.name.endswith(".tgz"):  # Argo's default archive: read what it holds
        import tarfile

        with tempfile.TemporaryDirectory() as tmp, tarfile.open(root) as tf:
            tf.extractall(tmp)
            return sorted(p.read_text() for p in Path(tmp).rglob("*") if p.is_file() and ".dflow" not in p.parts)
    if root.is_file():
        return [root.read_text()]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "a"
        if root.exists():
            shutil.copytree(root, copy)
            merge_stacked(str(copy))
        return sorted(p.read_text() for p in copy.rglob("*") if p.is_file() and ".dflow" not in p.parts)


def _summary(rows: List[Tuple[str, str, Dict[str, Any], Dict[str, List[str]]]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, phase, params, arts in rows:
        out.setdefault(name, []).append(json.dumps([phase, params, arts], sort_keys=True))
    return {k: sorted(v) for k, v in out.items()}


def _phase(p: str) -> str:
    return {"Error": "Failed", "Omitted": "Skipped"}.get(p, p)


def _grouped(manifest: Dict[str, Any], template: str) -> bool:
    from dflow_argo.podscript import decode_payload

    t = next(t for t in manifest["spec"]["templates"] if t["name"] == template)
    src = t.get("script", {}).get("source", "")
    return src.startswith("P = ") and bool((decode_payload(src).get("slices") or {}).get("group_size"))


def run_in_sandbox(feature: str, tmp: Path, python: Optional[str] = None) -> Tuple[str, Dict[str, Any], Sandbox]:
    build = tmp / "build-argo"
    build.mkdir()
    wf = FEATURES[feature](build)
    backend = ArgoBackend()
    comp = backend.compiler(wf.compile())
    manifest = comp.render()
    backend.upload(list(comp.uploads.values()))  # the dflow package and argo_ops, into the repository
    repo = s3_config["storage_client"].root
    sb = Sandbox(manifest, str(repo), str(tmp / "pods"), python=python)
    phase = sb.run()
    wrappers = {
        t["name"]
        for t in manifest["spec"]["templates"]
        if "workflows.dflow.io/wrapper" in t.get("metadata", {}).get("annotations", {})
    }
    rows = []
    for n in sb.nodes[1:]:
        if n.template in wrappers and n.type == "Steps":
            continue  # what ArgoBackend.list_steps hides too
        if "(" in n.display or n.display.startswith("[") or n.template.startswith(ARGO_HELPERS):
            continue  # fan-out children are compared through their group; checks, counts are Argo-only helpers
        params = {k: _decode(v) for k, v in n.parameters.items() if not k.startswith("dflow_")}
        if n.type in ("StepGroup", "TaskGroup") and _grouped(manifest, n.template):
            # what ArgoBackend.list_steps reports for a fan-out with group_size: the slices flattened
            params = {k: [y for x in v for y in x] if isinstance(v, list) else v for k, v in params.items()}
        arts = {k: _files(Path(repo) / key) for k, key in n.artifacts.items()}
        rows.append((n.name, _phase(n.phase), params if _phase(n.phase) == "Succeeded" else {}, arts))
    return phase, _summary(rows), sb


def run_locally(feature: str, tmp: Path) -> Tuple[str, Dict[str, Any]]:
    pytest.importorskip("dflow_debug", reason="the pods' results are compared with the local backend's (dflow-debug)")
    from dflow import download_artifact

    build = tmp / "build-debug"
    build.mkdir()
    config["mode"] = "debug"
    # the local backend with its own storage (under debug_workdir), as a user runs it
    saved, s3_config["storage_client"] = s3_config["storage_client"], None
    try:
        wf = FEATURES[feature](build)
        wf.submit()
        phase = wf.query_status()
        rows = []
        every = ["Pod", "Steps", "DAG", "StepGroup", "TaskGroup", "Skipped", "Omitted"]
        for i, s in enumerate(wf.query_step(type=every)):
            if "(" in s.displayName or s.type in ("Retry",) or s.displayName == wf.id:
                continue
            params = {k: _decode(v._text) for k, v in s.outputs.parameters.items()}
            arts = {}
            for k, a in s.outputs.artifacts.items():
                d = tmp / "downloads" / f"{i}-{k}"
                download_artifact(a, path=str(d))
                arts[k] = _files(d)
            rows.append((s.name, _phase(s.phase), params if _phase(s.phase) == "Succeeded" else {}, arts))
        return phase, _summary(rows)
    finally:
        config["mode"] = "default"
        s3_config["storage_client"] = saved


@pytest.mark.parametrize("feature", SANDBOXED)
def test_sandboxed_pods_match_the_local_backend(feature, tmp_path):
    phase, got, sb = run_in_sandbox(feature, tmp_path)
    want_phase, want = run_locally(feature, tmp_path)
    assert phase == want_phase, [(n.display, n.phase, n.message) for n in sb.nodes]
    assert got == want
    if feature == "counted_and_returned":  # the comparison alone would pass if both backends lost the slices
        assert json.loads(got["read-steps"][0])[1] == {"text": "p|q"}
        assert json.loads(got["read-dag"][0])[1] == {"text": "r|s|t"}
        assert json.loads(got["counted"][0])[1]["out"] == ["mG0", "mG1", "mG2"]


def _python38() -> Optional[str]:
    """A working python3.8 interpreter (pyenv shims that cannot run are skipped)."""
    import glob

    for cand in [
        shutil.which("python3.8"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8"))),
    ]:
        if cand:
            ok = subprocess.run([cand, "-c", "import sys; assert sys.version_info[:2] == (3, 8)"], capture_output=True)
            if ok.returncode == 0:
                return cand
    return None


PY38 = _python38()


@pytest.mark.skipif(PY38 is None, reason="no python3.8 on this machine")
@pytest.mark.parametrize("feature", ["steps_and_artifacts", "slices", "sub_path_slices", "continue_on"])
def test_pods_run_on_a_bare_python38(feature, tmp_path):
    """Pods need nothing but python3 (3.8+): the shipped package and the standard library."""
    bare = subprocess.run([PY38, "-c", "import pydantic"], capture_output=True)
    assert bare.returncode != 0, "this python3.8 has pydantic: not a bare interpreter"
    phase, got, sb = run_in_sandbox(feature, tmp_path, python=PY38)
    want_phase, want = run_locally(feature, tmp_path)
    assert phase == want_phase, [(n.display, n.phase, n.message) for n in sb.nodes]
    assert got == want
    if feature == "counted_and_returned":  # the comparison alone would pass if both backends lost the slices
        assert json.loads(got["read-steps"][0])[1] == {"text": "p|q"}
        assert json.loads(got["read-dag"][0])[1] == {"text": "r|s|t"}
        assert json.loads(got["counted"][0])[1]["out"] == ["mG0", "mG1", "mG2"]


def test_pods_find_dflow_only_in_the_shipped_package(tmp_path):
    """The pod's ``dflow`` comes from /tmp/dflow-pkg (the package artifact), not from this venv."""
    phase, _, sb = run_in_sandbox("identical_templates", tmp_path)
    assert phase == "Succeeded"
    pods = sorted((tmp_path / "pods").iterdir())
    assert (pods[0] / "tmp" / "dflow-pkg" / "dflow" / "runtime.py").is_file()
    assert (pods[0] / "tmp" / "dflow-packages" / "0" / "argo_ops" / "__init__.py").is_file()


def test_transient_errors_are_retried_in_pods(tmp_path):
    phase, got, sb = run_in_sandbox("retries_and_timeouts", tmp_path)
    assert phase == "Succeeded"
    flaky = next(n for n in sb.nodes if n.name == "flaky")
    assert flaky.attempts == 3 and flaky.parameters["tries"] == "3"


def test_success_thresholds_in_pods(tmp_path):
    phase, got, sb = run_in_sandbox("continue_on", tmp_path)
    assert phase == "Succeeded"
    checks = {n.name: n.phase for n in sb.nodes if n.name.endswith("-check-success")}
    assert checks == {
        "num-check-success": "Succeeded",
        "ratio-check-success": "Succeeded",
        "fan-check-success": "Succeeded",
        "sub-ratio-check-success": "Succeeded",
    }


def test_a_failed_threshold_fails_the_workflow(tmp_path):
    import argo_ops as ops
    from feature_workflows import T

    from dflow import Step, Workflow, argo_range

    wf = Workflow("too-few")
    wf.add(
        Step(
            "num",
            T(ops.fail_if),
            parameters={"x": "{{item}}", "bad": 1},
            with_param=argo_range(3),
            continue_on_num_success=3,
        )
    )
    backend = ArgoBackend()
    comp = backend.compiler(wf.compile())
    m = comp.render()
    backend.upload(list(comp.uploads.values()))
    sb = Sandbox(m, str(s3_config["storage_client"].root), str(tmp_path / "pods"))
    assert sb.run() == "Failed"
    assert {n.name: n.phase for n in sb.nodes}["num-check-success"] == "Failed"


def test_script_defined_ops_run_from_their_source(tmp_path):
    """An OP defined in the submitting script (``__main__``) is rebuilt in the pod from its source."""
    import yaml

    from dflow_argo import render_file

    script = tmp_path / "wf.py"
    script.write_text(
        "from dflow import Workflow, Step\n"
        "from dflow.python import OP, PythonOPTemplate\n"
        "@OP.function\n"
        "def inc(x: int) -> {'y': int}:\n"
        "    return {'y': x + 1}\n"
        "wf = Workflow('script')\n"
        "s = Step('inc', PythonOPTemplate(inc), parameters={'x': 41})\n"
        "wf.add(s)\n"
        "wf.add(Step('again', PythonOPTemplate(inc), parameters={'x': s.outputs.parameters['y']}))\n"
        "wf.submit()\n"
    )
    m = yaml.safe_load(render_file(str(script)))
    backend = ArgoBackend()
    # upload the dflow package the manifest names (render_file itself uploads nothing)
    from dflow_argo.package import Upload, dflow_package

    key = next(
        a["s3"]["key"]
        for t in m["spec"]["templates"]
        for a in t.get("inputs", {}).get("artifacts", [])
        if a["name"] == "dflow-pkg"
    )
    backend.upload([Upload(key, dflow_package(), "dflow-package")])
    sb = Sandbox(m, str(s3_config["storage_client"].root), str(tmp_path / "pods"))
    assert sb.run() == "Succeeded", [(n.display, n.phase, n.message) for n in sb.nodes]
    assert {n.name: n.parameters.get("y") for n in sb.nodes if n.name in ("inc", "again")} == {
        "inc": "42",
        "again": "43",
    }


@pytest.mark.skipif(PY38 is None, reason="no python3.8 on this machine")
def test_script_defined_ops_on_a_bare_python38(tmp_path):
    """A __main__ OP whose script imports dflow's user API, run by a python3 without pydantic."""
    import yaml

    from dflow_argo import render_file
    from dflow_argo.package import Upload, dflow_package

    script = tmp_path / "wf.py"
    script.write_text(
        "from dflow import Workflow, Step\n"
        "from dflow.python import OP, PythonOPTemplate\n"
        "@OP.function\n"
        "def inc(x: int) -> {'y': int}:\n"
        "    return {'y': x + 1}\n"
        "wf = Workflow('script')\n"
        "wf.add(Step('inc', PythonOPTemplate(inc), parameters={'x': 41}))\n"
        "wf.submit()\n"
    )
    m = yaml.safe_load(render_file(str(script)))
    key = next(
        a["s3"]["key"]
        for t in m["spec"]["templates"]
        for a in t.get("inputs", {}).get("artifacts", [])
        if a["name"] == "dflow-pkg"
    )
    ArgoBackend().upload([Upload(key, dflow_package(), "dflow-package")])
    sb = Sandbox(m, str(s3_config["storage_client"].root), str(tmp_path / "pods"), python=PY38)
    assert sb.run() == "Succeeded", [(n.display, n.phase, n.message) for n in sb.nodes]
