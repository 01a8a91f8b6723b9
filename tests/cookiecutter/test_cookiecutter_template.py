"""What a bake writes, checked without installing it: metadata, licenses, CI file, Dockerfile, READMEs.

Docker has no engine on these machines, so the Dockerfile is checked here by reading
it; ``test_cookiecutter_ci_and_image.py`` also runs its build step outside Docker.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter_op_support import (
    NO_NETWORK,
    TEMPLATE,
    bake,
    clean_env,
    docker_context_files,
    dockerfile_arg_defaults,
    dockerfile_instructions,
    read_toml,
    run_mounts,
)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

TEMPLATE_CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())
VERSIONS = TEMPLATE_CONTEXT["_python_versions"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return bake(tmp_path_factory.mktemp("bake"), package_name="my-ops")


def minor(version: str) -> int:
    major, minor_ = version.split(".")
    assert major == "3"
    return int(minor_)


def test_requires_python_is_core_s(project, core_pyproject):
    core = core_pyproject["project"]["requires-python"]
    assert TEMPLATE_CONTEXT["_dflow_requires_python"] == core
    assert read_toml(project / "pyproject.toml")["project"]["requires-python"] == core


def test_the_supported_versions_start_at_core_s_oldest_and_have_no_gap(core_pyproject):
    spec = SpecifierSet(core_pyproject["project"]["requires-python"])
    assert VERSIONS[0] in spec and f"3.{minor(VERSIONS[0]) - 1}" not in spec
    assert [minor(v) for v in VERSIONS] == list(range(minor(VERSIONS[0]), minor(VERSIONS[-1]) + 1))
    assert all(v in spec for v in VERSIONS)


def test_classifiers_list_the_supported_versions(project):
    classifiers = read_toml(project / "pyproject.toml")["project"]["classifiers"]
    listed = [c.rsplit(" ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert listed == VERSIONS


def test_dependencies_admit_this_checkout_s_dflow(project, core_pyproject):
    meta = read_toml(project / "pyproject.toml")["project"]
    [core] = [Requirement(r) for r in meta["dependencies"] if Requirement(r).name == "dflow-core"]
    assert core.specifier.contains(core_pyproject["project"]["version"])
    test_extra = {Requirement(r).name for r in meta["optional-dependencies"]["test"]}
    assert {"dflow-debug", "pytest"} <= test_extra


def test_the_ops_module_is_the_dflow_ops_entry_point(project):
    meta = read_toml(project / "pyproject.toml")["project"]
    assert meta["entry-points"]["dflow.ops"] == {"my_ops": "my_ops.ops"}
    assert (project / "src" / "my_ops" / "ops.py").is_file()


@pytest.mark.parametrize(
    ("license_id", "first_line"),
    [("MIT", "MIT License"), ("Apache-2.0", "Apache License"), ("BSD-3-Clause", "BSD 3-Clause License")],
)
def test_the_license_file_matches_the_license_expression(tmp_path, license_id, first_line):
    project = bake(tmp_path, package_name="my-ops", license=license_id, author_name="Ada Lovelace")
    meta = read_toml(project / "pyproject.toml")["project"]
    assert meta["license"] == license_id
    assert meta["license-files"] == ["LICENSE"]
    assert not [c for c in meta["classifiers"] if c.startswith("License ::")], "PEP 639: no license classifiers"
    text = (project / "LICENSE").read_text()
    assert text.lstrip().splitlines()[0].strip() == first_line
    assert text.endswith("\n") and "{{" not in text and "{%" not in text
    if license_id != "Apache-2.0":  # Apache's text carries no copyright line of its own
        assert re.search(r"Copyright \(c\) \d{4},? Ada Lovelace", text)


def test_ci_workflow_lints_tests_every_version_and_builds_the_image(project):
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    on = ci.get("on", ci.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert {"push", "pull_request"} <= set(on)
    jobs = ci["jobs"]
    assert set(jobs) == {"lint", "test", "image"}
    runs = {name: "\n".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "ruff check ." in runs["lint"] and "ruff format --check ." in runs["lint"]
    assert jobs["test"]["strategy"]["matrix"]["python-version"] == VERSIONS
    assert "python -m pytest" in runs["test"] and "python examples/workflow.py" in runs["test"]
    assert re.search(r"docker build .* --tag my-ops:ci \.", runs["image"])
    assert "docker run --rm my-ops:ci" in runs["image"]
    # nothing leaves the runner: only the checkout and Python set-up actions, no upload, no push
    used = {s["uses"].split("@")[0] for job in jobs.values() for s in job["steps"] if "uses" in s}
    assert used == {"actions/checkout", "actions/setup-python"}
    assert not re.search(r"docker push|upload|codecov|curl|wget", "\n".join(runs.values()))
    assert ci["permissions"] == {"contents": "read"}


def test_dockerfile_installs_the_package_and_lists_its_ops(project):
    instructions = dockerfile_instructions(project / "Dockerfile")
    names = [i.name for i in instructions]
    assert names[0] == "ARG" and names.count("FROM") == 1
    args = dockerfile_arg_defaults(instructions)
    assert args["PYTHON_VERSION"] in VERSIONS
    [base] = [i.args for i in instructions if i.name == "FROM"]
    assert base == "python:${PYTHON_VERSION}-slim"
    [install] = [i.args for i in instructions if i.name == "RUN"]
    mounts, command = run_mounts(install)
    assert mounts == [{"type": "bind", "source": ".", "target": "/src", "rw": ""},
                      {"type": "secret", "id": "netrc", "target": "/root/.netrc"}]
    assert command.startswith("python -m pip install ") and command.endswith(" /src")
    assert "--find-links /src/wheels" in command
    # an index URL may be given; credentials never travel in a build argument
    assert "DFLOW_INDEX_URL" in args and not [a for a in args if re.search(r"TOKEN|PASSWORD|SECRET|KEY", a)]
    [cmd] = [i.args for i in instructions if i.name == "CMD"]
    assert json.loads(cmd) == ["dflow", "ops", "my_ops"]
    assert (project / "Dockerfile").read_text().startswith("# syntax=docker/dockerfile:1\n")


def test_the_build_context_holds_what_the_image_build_needs(project):
    context = set(docker_context_files(project))
    needed = {"pyproject.toml", "README.md", "LICENSE", "src/my_ops/__init__.py", "src/my_ops/ops.py",
              "src/my_ops/py.typed", "wheels/README.md"}
    assert needed <= context, needed - context
    assert not [f for f in context if f.startswith(("tests/", ".git/", ".github/", "examples/"))]


def generated_files(project: Path) -> list:
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())


def test_the_template_readme_says_what_every_generated_file_is_for(project):
    readme = (TEMPLATE / "README.md").read_text()
    table = {m.group(1) for m in re.finditer(r"^\| `([^`]+)`", readme, re.M)}
    for rel in generated_files(project):
        generic = rel.replace("my_ops", "<module_name>")
        assert generic in table or generic.rsplit("/", 1)[0] + "/" in table, f"{generic} is not described"


def test_the_generated_readme_lists_every_file(project):
    readme = (project / "README.md").read_text()
    for rel in generated_files(project):
        if rel.startswith("wheels/"):
            rel = "wheels/"
        assert f"`{rel}`" in readme or f"`{rel.rsplit('/', 1)[-1]}`" in readme, f"{rel} is not in README.md"


def test_no_template_text_is_left_unrendered(project):
    for rel in generated_files(project):
        text = (project / rel).read_text()
        # the CI file keeps GitHub's own ${{ }} expressions
        leftovers = re.findall(r"(?<!\$)\{\{|\{%|cookiecutter\.", text)
        assert not leftovers, f"{rel}: {leftovers}"


def test_baking_from_the_command_line_makes_no_network_call(tmp_path):
    """The user's command, ``cookiecutter --no-input TEMPLATE package_name=...``, with every outside connection refused."""
    log = tmp_path / "network-attempts.log"
    env = clean_env(PYTHONPATH=str(NO_NETWORK), NO_NETWORK_LOG=str(log), HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "package_name=net-check-ops"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "net-check-ops" / "src" / "net_check_ops" / "ops.py").is_file()
    assert "pip install -e" in proc.stdout  # the post-generation hook says what to do next
    assert not log.exists(), log.read_text()


def test_the_no_network_guard_refuses_an_outside_connection(tmp_path):
    """The guard used above and by the package tests: it must catch a real attempt."""
    log = tmp_path / "network-attempts.log"
    env = clean_env(PYTHONPATH=str(NO_NETWORK), NO_NETWORK_LOG=str(log))
    code = "import urllib.request\ntry:\n    urllib.request.urlopen('http://pypi.org/simple/', timeout=5)\nexcept OSError:\n    pass"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert "name lookup of 'pypi.org'" in log.read_text()
