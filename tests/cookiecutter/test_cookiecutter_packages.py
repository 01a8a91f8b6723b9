"""Baked packages, each installed into a fresh virtual environment, used as their author would.

For each set of answers: bake, install (``pip install -e ".[test]"`` plus the ``lint``
group, with dflow-core and dflow-debug from this checkout's wheels), then run the
package's own tests and its example workflow with every outside network connection
refused, list its OPs with ``dflow ops``, lint it with its pinned ruff, and build its
sdist and wheel.
"""

from __future__ import annotations

import fnmatch
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cookiecutter_op_support import FreshVenv, bake, dflow_wheels, normalized, read_toml, run

pytestmark = pytest.mark.slow

LONG_NAME = "Lab.Tools_XY-spectroscopy-and-diffraction-analysis"
ANSWERS = {
    # a dash in the distribution name; the default module name (my_ops) and license (MIT)
    "dash": {"package_name": "my-ops"},
    # a module name of its own
    "own-module": {"package_name": "chem-ops", "module_name": "chemops", "license": "Apache-2.0"},
    # the longest name allowed, with capitals, dots and underscores; no e-mail
    "long-dotted": {"package_name": LONG_NAME, "license": "BSD-3-Clause", "author_email": ""},
}


@dataclass
class Installed:
    """A baked package, installed (editable) into a virtual environment of its own."""

    answers: dict
    project: Path
    venv: FreshVenv
    scratch: Path

    @property
    def module(self) -> str:
        return self.answers.get("module_name") or re.sub(r"[-.]", "_", self.answers["package_name"].lower())


@pytest.fixture(scope="module", params=list(ANSWERS), ids=list(ANSWERS))
def installed(request, tmp_path_factory, dflow_wheelhouse) -> Installed:
    answers = ANSWERS[request.param]
    root = tmp_path_factory.mktemp(request.param)
    project = bake(root / "out", **answers)
    env = FreshVenv.create(root / "venv")
    wheels = [str(w) for w in dflow_wheels(dflow_wheelhouse, "dflow-core", "dflow-debug")]
    env.pip_install(*wheels, "-e", f"{project}[test]", "--group", "lint", cwd=project)
    scratch = root / "scratch"
    scratch.mkdir()
    return Installed(answers, project, env, scratch)


def test_its_own_tests_pass(installed):
    proc = run([str(installed.venv.python), "-m", "pytest", "-p", "no:cacheprovider"], cwd=installed.project,
               env=installed.venv.env(no_network=True))
    summary = proc.stdout.strip().splitlines()[-1]
    # every test ran and passed: nothing skipped, failed or expected to fail
    assert re.fullmatch(r"=+ \d+ passed in [\d.]+s( \([\d:]+\))? =+", summary), proc.stdout[-3000:]
    assert installed.venv.network_attempts() == ""


def test_its_example_runs_on_the_local_backend(installed):
    workdir = installed.scratch / "example"
    workdir.mkdir()
    proc = run([str(installed.venv.python), str(installed.project / "examples" / "workflow.py")], cwd=workdir,
               env=installed.venv.env(no_network=True))
    lines = proc.stdout.splitlines()  # with dflow's "Workflow has been submitted" from stderr
    assert "count 6, mean 5.25, stdev 2.562" in lines, proc.stdout
    histogram = lines[lines.index("count 6, mean 5.25, stdev 2.562") + 1:]
    assert [int(line.split()[2]) for line in histogram] == [2, 2, 2], proc.stdout
    assert installed.venv.network_attempts() == ""
    # what the example leaves in the working directory is what .gitignore leaves out
    ignored = [p.rstrip("/") for p in (installed.project / ".gitignore").read_text().splitlines()
               if p and not p.startswith("#")]
    written = sorted(p.name for p in workdir.iterdir())
    assert written and all(any(fnmatch.fnmatch(n, pat) for pat in ignored) for n in written), written


def test_dflow_ops_lists_its_ops_with_their_signs(installed):
    module = installed.module
    ops = run([str(installed.venv.bin / "dflow"), "ops", module], cwd=installed.scratch, env=installed.venv.env())
    out = ops.stdout
    assert out.startswith(f"{module} (")
    assert f"[{module}.ops.Summarize]" in out and f"[{module}.ops.scale_values]" in out
    for line in ("in  data             artifact Path", "in  bins             parameter int",
                 "out histogram        artifact Path", "in  values           parameter List[float]",
                 "out total            parameter float"):
        assert line in out, out
    plugins = run([str(installed.venv.bin / "dflow"), "plugins"], cwd=installed.scratch, env=installed.venv.env())
    assert re.search(rf"^  {module}\s+\S+ {re.escape(installed.answers.get('version', '0.1.0'))}$", plugins.stdout,
                     re.M), plugins.stdout


def test_ruff_finds_nothing_to_fix(installed):
    ruff = str(installed.venv.bin / "ruff")
    version = run([ruff, "--version"], cwd=installed.project, env=installed.venv.env()).stdout
    pin = read_toml(installed.project / "pyproject.toml")["dependency-groups"]["lint"]
    assert pin == ["ruff~=0.17.0"] and version.startswith("ruff 0.17."), version
    run([ruff, "check", "."], cwd=installed.project, env=installed.venv.env())
    run([ruff, "format", "--check", "."], cwd=installed.project, env=installed.venv.env())


def test_its_sdist_and_wheel_build(installed, core_pyproject):
    dist = installed.scratch / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(installed.project)], cwd=installed.scratch)
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    module, answers = installed.module, installed.answers
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        [info] = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        metadata = zf.read(f"{info}/METADATA").decode()
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert {f"{module}/__init__.py", f"{module}/ops.py", f"{module}/py.typed", f"{info}/licenses/LICENSE"} <= names
    assert not [n for n in names if n.startswith(("tests/", "examples/"))]
    assert f"[dflow.ops]\n{module} = {module}.ops\n" in entry_points
    fields = dict(line.split(": ", 1) for line in metadata.split("\n\n", 1)[0].splitlines() if ": " in line)
    assert normalized(fields["Name"]) == normalized(answers["package_name"])
    assert fields["License-Expression"] == answers.get("license", "MIT")
    assert fields["Requires-Python"] == core_pyproject["project"]["requires-python"]
    assert "Requires-Dist: dflow-core>=0.1.0" in metadata
    with tarfile.open(sdist) as tf:
        members = {m.split("/", 1)[1] for m in tf.getnames() if "/" in m}
    assert {"tests/test_ops.py", "examples/workflow.py", f"src/{module}/ops.py", "LICENSE"} <= members
    assert not [m for m in members if m.startswith(("wheels/", ".github/"))]
