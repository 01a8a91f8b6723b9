"""Refuse bad answers before cookiecutter writes the project.

Every answer is checked, and all problems are reported at once, each naming the
answer, what is wrong and an example of a good value. On any problem the hook exits
with status 1 and cookiecutter removes the directory it had created, so nothing
half-written is left behind. No network access.
"""

import keyword
import os
import re
import sys
import tempfile

# A distribution name (PEP 508), without consecutive separators, so that its lowercase
# form is also a valid container image name.
PACKAGE_RE = re.compile(r"^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$")
# A lowercase Python identifier (PEP 8 module names); no leading underscore, since the
# top-level module of a distribution is public.
MODULE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# PEP 440 public versions in their usual spelling: 1.0, 0.1.0, 2.0.0rc1, 1.0.post1, 1.1.dev3
VERSION_RE = re.compile(r"^(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
EMAIL_RE = re.compile(r"^[^@\s\"\\]+@[^@\s\"\\]+\.[^@\s\"\\]+$")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause")
# Names are typed in every import and fill generated lines; past this, lines get long.
MAX_NAME = 50

# Names taken by dflow itself: an OP package with one of them would shadow or replace it.
TAKEN_DISTRIBUTIONS = {"dflow", "dflow-core", "dflow-debug", "dflow-argo", "dflow-minio"}
TAKEN_MODULES = {"dflow", "dflow_debug", "dflow_argo", "dflow_minio", "test", "tests", "examples", "src"}


def normalized(name: str) -> str:
    """The PEP 503 normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def stdlib_modules() -> set:
    """Top-level modules of the standard library (a module of that name would shadow it)."""
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return set(names)
    return set(sys.builtin_module_names) | {
        "abc", "argparse", "array", "ast", "asyncio", "base64", "bisect", "calendar", "collections", "concurrent",
        "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "email", "enum", "functools", "glob",
        "hashlib", "heapq", "html", "http", "inspect", "io", "json", "logging", "math", "multiprocessing",
        "numbers", "operator", "os", "pathlib", "pickle", "platform", "queue", "random", "re", "shutil",
        "signal", "socket", "statistics", "string", "subprocess", "tempfile", "threading", "time", "types",
        "typing", "unittest", "urllib", "uuid", "warnings", "weakref", "xml", "zipfile",
    }


def one_line_problem(field: str, value: str) -> "str | None":
    """Free-text answers end up in TOML strings, docstrings and YAML: keep them to one plain line."""
    if any(c in value for c in '"\\') or any(ord(c) < 32 for c in value):
        return (f"{field} {value!r} contains a double quote, a backslash or a control character; "
                "write it on one line without them")
    return None


def problems(answers: dict) -> list:
    """Every problem with ``answers``, as messages that say how to fix it."""
    found = []
    package = answers["package_name"]
    if not PACKAGE_RE.match(package):
        found.append(
            f"package_name {package!r} is not a valid distribution name: use letters and digits, separated by "
            "single '-', '_' or '.', starting and ending with a letter or digit (for example 'my-ops')"
        )
    elif len(package) > MAX_NAME:
        found.append(f"package_name {package!r} is {len(package)} characters long; keep it to {MAX_NAME}")
    elif normalized(package) in TAKEN_DISTRIBUTIONS:
        found.append(f"package_name {package!r} is a distribution of dflow itself; choose another (for example "
                     f"'{normalized(package)}-ops')")
    module = answers["module_name"]
    if not MODULE_RE.match(module):
        found.append(
            f"module_name {module!r} is not a valid module name: use lowercase letters, digits and '_', "
            "starting with a letter (for example 'my_ops')"
        )
    elif len(module) > MAX_NAME:
        found.append(f"module_name {module!r} is {len(module)} characters long; keep it to {MAX_NAME}")
    elif keyword.iskeyword(module):
        found.append(f"module_name {module!r} is a Python keyword; choose another (for example '{module}_ops')")
    elif module in TAKEN_MODULES or module in stdlib_modules():
        found.append(f"module_name {module!r} would shadow the module of that name (dflow's, the standard "
                     f"library's or a common folder); choose another (for example '{module}_ops')")
    version = answers["version"]
    if not VERSION_RE.match(version):
        found.append(f"version {version!r} is not a PEP 440 version (for example '0.1.0')")
    email = answers["author_email"]
    if email and not EMAIL_RE.match(email):
        found.append(f"author_email {email!r} is not an e-mail address (for example 'you@example.org'; "
                     "or leave it empty)")
    if answers["license"] not in LICENSES:
        found.append(f"license {answers['license']!r} is not offered; choose one of {', '.join(LICENSES)}")
    for field in ("description", "author_name"):
        problem = one_line_problem(field, answers[field])
        if problem:
            found.append(problem)
    if not answers["author_name"].strip():
        found.append("author_name is empty; give the name of the author (a person or an organization)")
    return found


def remove_rendered_copy() -> None:
    """Delete this script when it is cookiecutter's rendered copy in the temporary directory.

    cookiecutter renders each hook into a temporary file and does not delete it; the
    copy holds every answer, so it goes.
    """
    here = os.path.realpath(__file__)
    if os.path.dirname(here) == os.path.realpath(tempfile.gettempdir()):
        os.unlink(here)


def main(answers: dict) -> int:
    remove_rendered_copy()
    found = problems(answers)
    if not found:
        return 0
    print("cookiecutter-op: cannot create the OP package:", file=sys.stderr)
    for message in found:
        print(f"  - {message}", file=sys.stderr)
    print("Nothing was written. Run cookiecutter again with other answers.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main({
        "package_name": {{ cookiecutter.package_name|tojson }},
        "module_name": {{ cookiecutter.module_name|tojson }},
        "version": {{ cookiecutter.version|tojson }},
        "author_name": {{ cookiecutter.author_name|tojson }},
        "author_email": {{ cookiecutter.author_email|tojson }},
        "description": {{ cookiecutter.description|tojson }},
        "license": {{ cookiecutter.license|tojson }},
    }))
