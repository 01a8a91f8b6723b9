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


def first_problem(field: str, value: str, checks: list) -> "str | None":
    """The message of the first of ``checks`` (``(is_bad, says)`` pairs) that ``value`` fails."""
    for is_bad, says in checks:
        if is_bad(value):
            return f"{field} {value!r} {says(value)}"
    return None


def too_long(value: str) -> bool:
    return len(value) > MAX_NAME


def length_says(value: str) -> str:
    return f"is {len(value)} characters long; keep it to {MAX_NAME}"


PACKAGE_CHECKS = [
    (lambda v: not PACKAGE_RE.match(v),
     lambda v: "is not a valid distribution name: use letters and digits, separated by single '-', '_' or '.', "
               "starting and ending with a letter or digit (for example 'my-ops')"),
    (too_long, length_says),
    (lambda v: normalized(v) in TAKEN_DISTRIBUTIONS,
     lambda v: f"is a distribution of dflow itself; choose another (for example '{normalized(v)}-ops')"),
]
MODULE_CHECKS = [
    (lambda v: not MODULE_RE.match(v),
     lambda v: "is not a valid module name: use lowercase letters, digits and '_', starting with a letter "
               "(for example 'my_ops')"),
    (too_long, length_says),
    (keyword.iskeyword, lambda v: f"is a Python keyword; choose another (for example '{v}_ops')"),
    (lambda v: v in TAKEN_MODULES or v in stdlib_modules(),
     lambda v: "would shadow the module of that name (dflow's, the standard library's or a common folder); "
               f"choose another (for example '{v}_ops')"),
]
VERSION_CHECKS = [
    (lambda v: not VERSION_RE.match(v), lambda v: "is not a PEP 440 version (for example '0.1.0')"),
]
EMAIL_CHECKS = [
    (lambda v: v and not EMAIL_RE.match(v),
     lambda v: "is not an e-mail address (for example 'you@example.org'; or leave it empty)"),
]
LICENSE_CHECKS = [
    (lambda v: v not in LICENSES, lambda v: f"is not offered; choose one of {', '.join(LICENSES)}"),
]
ONE_LINE_CHECKS = [
    (lambda v: any(c in v for c in '"\\') or any(ord(c) < 32 for c in v),
     lambda v: "contains a double quote, a backslash or a control character; write it on one line without them"),
]
NAME_CHECKS = ONE_LINE_CHECKS + [
    (lambda v: not v.strip(), lambda v: "is empty; give the name of the author (a person or an organization)"),
]


def problems(answers: dict) -> list:
    """Every problem with ``answers``, as messages that say how to fix it."""
    checks = [("package_name", PACKAGE_CHECKS), ("module_name", MODULE_CHECKS), ("version", VERSION_CHECKS),
              ("author_email", EMAIL_CHECKS), ("license", LICENSE_CHECKS), ("description", ONE_LINE_CHECKS),
              ("author_name", NAME_CHECKS)]
    found = [first_problem(field, answers[field], field_checks) for field, field_checks in checks]
    return [message for message in found if message]


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
