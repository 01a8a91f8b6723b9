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
"""

from __future__ import annotations

import json
import re
import sys

import pytest
import yaml
from cookiecutter_op_support import (
    FreshVenv,
    bake,
    copy_docker_context,
    copy_wheels,
    dockerfile_arg_defaults,
    dockerfile_env,
    dockerfile_instructions,
    run,
    run_mounts,
)

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
    copy_wheels(dflow_wheelhouse, project / "wheels")
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


def test_the_image_build_installs_the_package_and_its_cmd_lists_the_ops(tmp_path, dflow_wheelhouse):
    project = bake(tmp_path / "checkout", package_name="chem-ops", module_name="chemops")
    copy_wheels(dflow_wheelhouse, project / "wheels")  # dflow-core from wheels/, as the Dockerfile documents
    context = copy_docker_context(project, tmp_path / "context")
    instructions = dockerfile_instructions(project / "Dockerfile")

    [run_args] = [i.args for i in instructions if i.name == "RUN"]
    mounts, command = run_mounts(run_args)
    [bind] = [m for m in mounts if m["type"] == "bind"]
    assert bind["source"] == "."
    command = re.sub(rf"(?<![\w/]){re.escape(bind['target'])}(?=/|\s|$)", str(context), command)
    # the netrc secret is optional (BuildKit mounts a secret only when it is given); none is given here
    [secret] = [m for m in mounts if m["type"] == "secret"]
    assert secret["id"] == "netrc" and secret.get("required", "false") == "false"

    base = FreshVenv.create(tmp_path / "image", with_pip=True)  # the base image: a Python with pip
    build_env = base.env(**dockerfile_arg_defaults(instructions), **dockerfile_env(instructions))
    run(["sh", "-c", command], cwd=tmp_path, env=build_env)

    # only the installed package stays: nothing of it is imported from the build context
    where = run([str(base.python), "-c", "import chemops.ops; print(chemops.ops.__file__)"], cwd=tmp_path,
                env=base.env()).stdout.strip()
    assert str(base.path) in where and str(context) not in where, where

    [workdir] = [i.args for i in instructions if i.name == "WORKDIR"]
    assert workdir.startswith("/")
    [cmd] = [json.loads(i.args) for i in instructions if i.name == "CMD"]
    scratch = tmp_path / "workdir"
    scratch.mkdir()
    out = run([str(base.bin / cmd[0]), *cmd[1:]], cwd=scratch, env=base.env(no_network=True)).stdout
    assert out.startswith("chemops (chem-ops 0.1.0)"), out
    assert "[chemops.ops.Summarize]" in out and "[chemops.ops.scale_values]" in out
    assert base.network_attempts() == ""
