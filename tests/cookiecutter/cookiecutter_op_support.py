"""Helpers of the ``cookiecutter-op`` template tests (fixtures are in ``conftest.py``).

A baked package is installed into a fresh virtual environment of its own. The dflow
distributions it needs (``dflow-core``, and ``dflow-debug`` for its tests) are not
on PyPI: they are built from this checkout into a wheelhouse once per session and
installed from there; everything else comes from the package index, as for a user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "cookiecutter-op"
NO_NETWORK = Path(__file__).resolve().parent / "no_network"
# the dflow distributions a baked package meets: its dependency, its tests' backend, a cluster's backend
LOCAL_DISTRIBUTIONS = {
    "dflow-core": REPO / "core",
    "dflow-debug": REPO / "plugins" / "debug_backend",
    "dflow-argo": REPO / "plugins" / "argo_backend",
}


def read_toml(path: Path) -> dict:
    """The parsed TOML file ``path``."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def normalized(name: str) -> str:
    """The PEP 503 form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake the template non-interactively into ``output_dir``; return the project folder.

    cookiecutter's configuration, replay and clone folders go next to ``output_dir``,
    not to the home directory.
    """
    from cookiecutter.main import cookiecutter

    output_dir.mkdir(parents=True, exist_ok=True)
    config = output_dir.parent / f"{output_dir.name}-cookiecutter.yaml"
    config.write_text(f"replay_dir: {output_dir.parent / 'replay'}\ncookiecutters_dir: {output_dir.parent / 'cc'}\n")
    return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir),
                             config_file=str(config)))


def clean_env(**extra: str) -> Dict[str, str]:
    """This process's environment without dflow settings, virtualenv and Python path leaks."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DFLOW_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


def run(cmd: List[str], cwd: Path, env: Optional[Dict[str, str]] = None, timeout: float = 600
        ) -> subprocess.CompletedProcess:
    """Run ``cmd`` (stderr into stdout); on a non-zero exit fail the test with its output."""
    proc = subprocess.run(cmd, cwd=str(cwd), env=env or clean_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{cmd!r} in {cwd} exited with {proc.returncode}:\n{proc.stdout[-8000:]}")
    return proc


@dataclass
class FreshVenv:
    """A new virtual environment (made by the standard library's ``venv``)."""

    path: Path
    no_network_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.no_network_log = self.path.parent / f"{self.path.name}-network-attempts.log"

    @classmethod
    def create(cls, path: Path, with_pip: bool = False) -> "FreshVenv":
        venv.EnvBuilder(with_pip=with_pip, clear=True).create(str(path))
        return cls(path)

    @property
    def bin(self) -> Path:
        return self.path / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, no_network: bool = False, **extra: str) -> Dict[str, str]:
        """The environment of a shell in which this venv is activated (optionally without network)."""
        env = clean_env(VIRTUAL_ENV=str(self.path), PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                        **extra)
        if no_network:
            env["PYTHONPATH"] = str(NO_NETWORK)
            env["NO_NETWORK_LOG"] = str(self.no_network_log)
        return env

    def pip_install(self, *args: str, cwd: Path) -> None:
        """Install into this venv with the pip of the test runner (``pip --python``), from the index."""
        run([sys.executable, "-m", "pip", "--python", str(self.python), "install", "--quiet",
             "--disable-pip-version-check", *args], cwd=cwd, env=clean_env())

    def network_attempts(self) -> str:
        """What the no-network guard refused in processes run with ``env(no_network=True)`` (empty: nothing)."""
        return self.no_network_log.read_text() if self.no_network_log.exists() else ""


def dflow_wheels(wheelhouse: Path, *names: str) -> List[Path]:
    """The wheels of the dflow distributions ``names`` in ``wheelhouse``."""
    found = {normalized(w.name.split("-")[0]): w for w in wheelhouse.glob("*.whl")}
    return [found[name] for name in names]


def copy_wheels(wheels: List[Path], dest: Path) -> List[Path]:
    """Copy ``wheels`` into the folder ``dest`` (a baked package's ``wheels/``)."""
    dest.mkdir(exist_ok=True)
    return [Path(shutil.copy2(w, dest)) for w in wheels]


# --- the build context and the Dockerfile, read the way Docker reads them ---------------


def dockerignore_regex(pattern: str) -> "re.Pattern[str]":
    """A ``.dockerignore`` pattern as a regular expression over context-relative paths.

    Patterns are anchored at the context root; ``*`` and ``?`` stay within one path
    element and ``**`` crosses any number of them (Docker's rules, without ``!``).
    """
    out, i = "", 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_patterns(project: Path) -> List[str]:
    """The patterns of ``project/.dockerignore``, without comments and blank lines."""
    lines = (project / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def docker_context_files(project: Path) -> List[str]:
    """The files of ``project`` that a ``docker build`` sends as its context (``.dockerignore`` applied)."""
    patterns = dockerignore_patterns(project)
    assert not [p for p in patterns if p.startswith("!")], "negated .dockerignore patterns are not emulated"
    regexes = [dockerignore_regex(p) for p in patterns]
    kept = []
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        parts = path.relative_to(project).as_posix().split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if not any(r.match(p) for r in regexes for p in prefixes):
            kept.append("/".join(parts))
    return kept


def copy_docker_context(project: Path, dest: Path) -> Path:
    """Copy the build context of ``project`` to ``dest``, as Docker would send it."""
    for rel in docker_context_files(project):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / rel, dest / rel)
    return dest


@dataclass
class Instruction:
    """One Dockerfile instruction: its name in capitals and its arguments on one line."""

    name: str
    args: str


def dockerfile_instructions(path: Path) -> List[Instruction]:
    """The instructions of a Dockerfile: comments dropped, continuation lines joined."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in text.splitlines():
        if line.strip():
            name, _, args = line.strip().partition(" ")
            out.append(Instruction(name.upper(), " ".join(args.split())))
    return out


def dockerfile_arg_defaults(instructions: List[Instruction]) -> Dict[str, str]:
    """``ARG`` names and their defaults (empty where there is none)."""
    args = {}
    for ins in instructions:
        if ins.name == "ARG":
            key, _, value = ins.args.partition("=")
            args[key] = value.strip('"')
    return args


def dockerfile_env(instructions: List[Instruction]) -> Dict[str, str]:
    """The variables ``ENV`` sets (``KEY=value`` pairs without spaces in values)."""
    env = {}
    for ins in instructions:
        if ins.name == "ENV":
            for pair in ins.args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def run_mounts(args: str) -> "tuple[List[Dict[str, str]], str]":
    """The ``--mount=`` options of a ``RUN`` instruction, each as a dict, and the command after them."""
    mounts = []
    while args.startswith("--mount="):
        option, _, args = args.partition(" ")
        mounts.append(dict(pair.partition("=")[::2] for pair in option[len("--mount="):].split(",")))
    return mounts, args
