"""The generated CI file and Dockerfile, executed as written wherever that is possible here.

* CI: GitHub Actions cannot run here. The ``run`` steps of the ``lint`` and ``test``
  jobs are executed as written, each job in a fresh virtual environment (standing in
  for ``actions/setup-python``; this machine's Python, which is in the version matrix,
  also runs the lint job) on a bake that stands in for ``actions/checkout``. The
  dflow wheels are put in ``wheels/``, the route that the file documents for
  distributions missing from the index. The ``image`` job needs Docker and is covered
  by the next test.
* Image: there is no Docker engine here. The build context is made as
  ``.dockerignore`` says, the ``RUN`` instruction is run on it in a fresh virtual
  environment (standing in for the ``python:*-slim`` base) with the Dockerfile's
  ``ARG`` defaults and ``ENV``, and then the ``CMD`` runs, with every outside network
  connection refused.
* On Argo: no Kubernetes here either. The example, configured for a cluster through
  ``DFLOW_*`` variables, is rendered by dflow-argo, and its pods run in that image
  under ``plugins/argo_backend/tests/argo_sandbox.py`` (Argo's executor file contract, the pods' own
  scripts).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cookiecutter_op_support import (
    REPO,
    FreshVenv,
    bake,
    copy_docker_context,
    copy_wheels,
    dflow_wheels,
    dockerfile_arg_defaults,
    dockerfile_env,
    dockerfile_instructions,
    run,
    run_mounts,
)

from dflow.settings import s3_config
from dflow.storage import LocalStorageClient
from dflow_argo import ArgoBackend
from dflow_argo.package import Upload, dflow_package
from dflow_argo.podscript import decode_payload

pytestmark = pytest.mark.slow

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def github_env(values: dict) -> dict:
    """A workflow's ``env:`` with ``${{ vars.NAME }}`` as GitHub gives it for an unset variable: empty."""
    out = {}
    for key, value in (values or {}).items():
        value = re.sub(r"\$\{\{\s*vars\.\w+\s*\}\}", "", str(value))
        assert "${{" not in value, f"env {key}: an expression this emulation does not know: {value}"
        out[key] = value
    return out


def test_the_ci_lint_and_test_jobs_pass_as_written(tmp_path, dflow_wheelhouse):
    project = bake(tmp_path / "checkout", package_name="my-ops")
    copy_wheels(dflow_wheels(dflow_wheelhouse, "dflow-core", "dflow-debug"), project / "wheels")
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert THIS_PYTHON in ci["jobs"]["test"]["strategy"]["matrix"]["python-version"]
    workflow_env = github_env(ci.get("env"))
    assert workflow_env["DFLOW_INDEX_URL"] == ""
    for job_name in ("lint", "test"):  # lint first: the test job leaves the example's output behind
        job = ci["jobs"][job_name]
        runner = FreshVenv.create(tmp_path / f"{job_name}-venv", with_pip=True)
        env = runner.env(**workflow_env, **github_env(job.get("env")))
        ran = 0
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"].split("@")[0] in ("actions/checkout", "actions/setup-python"), step
                continue
            script = step["run"]
            assert "${{" not in script, f"{job_name}: a run step with an expression: {script}"
            run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=project / step.get("working-directory", "."), env=env)
            ran += 1
        assert ran >= 3, f"{job_name}: only {ran} run steps"
    # the test job ran the package's tests and the example on the local backend
    assert list(project.glob("scale-and-summarize-*")), "the example workflow left no run directory"


@dataclass
class Image:
    """A baked package's image, built as its Dockerfile says, into a virtual environment."""

    project: Path
    base: FreshVenv
    context: Path
    instructions: list


@pytest.fixture(scope="module")
def image(tmp_path_factory, dflow_wheelhouse) -> Image:
    root = tmp_path_factory.mktemp("image")
    project = bake(root / "checkout", package_name="chem-ops", module_name="chemops")
    # dflow-core from wheels/, as the Dockerfile documents for an index that lacks it
    copy_wheels(dflow_wheels(dflow_wheelhouse, "dflow-core"), project / "wheels")
    context = copy_docker_context(project, root / "context")
    instructions = dockerfile_instructions(project / "Dockerfile")

    [run_args] = [i.args for i in instructions if i.name == "RUN"]
    mounts, command = run_mounts(run_args)
    [bind] = [m for m in mounts if m["type"] == "bind"]
    assert bind["source"] == "."
    command = re.sub(rf"(?<![\w/]){re.escape(bind['target'])}(?=/|\s|$)", str(context), command)
    # the netrc secret is optional (BuildKit mounts a secret only when it is given); none is given here
    [secret] = [m for m in mounts if m["type"] == "secret"]
    assert secret["id"] == "netrc" and secret.get("required", "false") == "false"

    base = FreshVenv.create(root / "image", with_pip=True)  # the base image: a Python with pip
    run(["sh", "-c", command], cwd=root, env=base.env(**dockerfile_arg_defaults(instructions),
                                                      **dockerfile_env(instructions)))
    return Image(project, base, context, instructions)


def test_the_image_holds_the_installed_package_and_its_cmd_lists_the_ops(image, tmp_path):
    # only the installed package stays: nothing of it is imported from the build context
    where = run([str(image.base.python), "-c", "import chemops.ops; print(chemops.ops.__file__)"], cwd=tmp_path,
                env=image.base.env()).stdout.strip()
    assert str(image.base.path) in where and str(image.context) not in where, where

    [workdir] = [i.args for i in image.instructions if i.name == "WORKDIR"]
    assert workdir.startswith("/")
    [cmd] = [json.loads(i.args) for i in image.instructions if i.name == "CMD"]
    out = run([str(image.base.bin / cmd[0]), *cmd[1:]], cwd=tmp_path, env=image.base.env(no_network=True)).stdout
    assert out.startswith("chemops (chem-ops 0.1.0)"), out
    assert "[chemops.ops.Summarize]" in out and "[chemops.ops.scale_values]" in out
    assert image.base.network_attempts() == ""


def test_the_example_configured_for_argo_runs_its_pods_in_the_image(image, tmp_path, dflow_wheelhouse, monkeypatch):
    """The example under ``DFLOW_MODE=default``, rendered by dflow-argo, and its pods run in the image.

    There is no Kubernetes here: the manifest is rendered offline (``dflow render``, as
    submitting would compile it) in the user's virtual environment, then interpreted by
    ``plugins/argo_backend/tests/argo_sandbox.py``, which runs each pod's own script under Argo's file
    contract with the image's Python.
    """
    user = FreshVenv.create(tmp_path / "user")
    user.pip_install(*map(str, dflow_wheels(dflow_wheelhouse, "dflow-core", "dflow-argo")), str(image.project),
                     cwd=tmp_path)
    token = "argo-token-that-must-not-leak"
    cluster = {"DFLOW_MODE": "default", "DFLOW_HOST": "https://argo.invalid:2746", "DFLOW_TOKEN": token,
               "DFLOW_NAMESPACE": "argo", "CHEMOPS_IMAGE": "registry.invalid/chem-ops:0.1.0"}
    rendered = run([str(user.bin / "dflow"), "render", "--json", str(image.project / "examples" / "workflow.py")],
                   cwd=tmp_path, env=user.env(no_network=True, **cluster)).stdout
    assert user.network_attempts() == ""
    assert token not in rendered
    manifest = json.loads(rendered[rendered.index("{"):])
    scripts = {t["name"]: t["script"] for t in manifest["spec"]["templates"] if "script" in t}
    assert {s["image"] for s in scripts.values()} == {cluster["CHEMOPS_IMAGE"]}
    ops = {op["qualname"]: op for op in (decode_payload(s["source"])["op"] for s in scripts.values())}
    assert set(ops) == {"Summarize", "scale_values"}
    # the OPs are imported from the image, not shipped as source
    assert all(op["module"] == "chemops.ops" and op["source"] is None for op in ops.values())

    monkeypatch.syspath_prepend(str(REPO / "plugins" / "argo_backend" / "tests"))
    from argo_sandbox import Sandbox

    repository = tmp_path / "artifact-repository"
    repository.mkdir()
    monkeypatch.setitem(s3_config, "storage_client", LocalStorageClient(root=str(repository)))
    [pkg_key] = {a["s3"]["key"] for t in manifest["spec"]["templates"]
                 for a in t.get("inputs", {}).get("artifacts", []) if a["name"] == "dflow-pkg"}
    ArgoBackend().upload([Upload(pkg_key, dflow_package(), "dflow-package")])  # what submit() uploads first
    sandbox = Sandbox(manifest, str(repository), str(tmp_path / "pods"), python=str(image.base.python))
    assert sandbox.run() == "Succeeded", [(n.display, n.phase, n.message) for n in sandbox.nodes]
    [summarize] = [n for n in sandbox.nodes if n.name == "summarize" and n.type == "Pod"]
    assert (summarize.parameters["count"], summarize.parameters["mean"]) == ("6", "5.25")
