"""The pre-generation hook: bad answers are refused with a clear message, and nothing is written.

Baking only (no install): each case runs the real cookiecutter with the real hooks.
"""

import os
import tempfile
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter_op_support import bake

BAD_ANSWERS = [
    ({"package_name": "my ops"}, "package_name 'my ops' is not a valid distribution name"),
    ({"package_name": "-my-ops"}, "package_name '-my-ops' is not a valid distribution name"),
    ({"package_name": "my--ops"}, "package_name 'my--ops' is not a valid distribution name"),
    ({"package_name": "my_ops!"}, "package_name 'my_ops!' is not a valid distribution name"),
    ({"package_name": "../escape"}, "package_name '../escape' is not a valid distribution name"),
    ({"package_name": "a/b"}, "package_name 'a/b' is not a valid distribution name"),
    ({"package_name": ".."}, "package_name '..' is not a valid distribution name"),
    ({"package_name": ""}, "package_name '' is not a valid distribution name"),
    ({"package_name": "Dflow_Core"}, "package_name 'Dflow_Core' is a distribution of dflow itself"),
    ({"package_name": "x" * 51}, "is 51 characters long; keep it to 50"),
    ({"package_name": "ops", "module_name": "My-Ops"}, "module_name 'My-Ops' is not a valid module name"),
    ({"package_name": "ops", "module_name": "1ops"}, "module_name '1ops' is not a valid module name"),
    ({"package_name": "ops", "module_name": "_ops"}, "module_name '_ops' is not a valid module name"),
    ({"package_name": "import"}, "module_name 'import' is a Python keyword"),
    ({"package_name": "json"}, "module_name 'json' would shadow the module of that name"),
    ({"package_name": "dflow"}, "package_name 'dflow' is a distribution of dflow itself"),
    ({"package_name": "tests"}, "module_name 'tests' would shadow the module of that name"),
    ({"version": "one"}, "version 'one' is not a PEP 440 version"),
    ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address"),
    ({"description": 'say "hi"'}, "description 'say \"hi\"' contains a double quote"),
    ({"author_name": "A\\B"}, "author_name 'A\\\\B' contains a double quote, a backslash"),
    ({"author_name": " "}, "author_name ' ' is empty"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS,
                         ids=[f"{k}={v!r}"[:40] for a, _ in BAD_ANSWERS for k, v in list(a.items())[-1:]])
def test_a_bad_answer_is_refused_before_anything_is_written(tmp_path, capfd, answers, message):
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake(out, **answers)
    err = capfd.readouterr().err
    assert "cookiecutter-op: cannot create the OP package:" in err
    assert message in err, err
    assert "Nothing was written" in err
    assert list(out.iterdir()) == [], "a refused bake left files behind"
    assert not (tmp_path / "escape").exists()


def test_every_problem_is_reported_at_once(tmp_path, capfd):
    with pytest.raises(FailedHookException):
        bake(tmp_path / "out", package_name="my ops", module_name="class", version="v1", author_email="x")
    err = capfd.readouterr().err
    for field in ("package_name 'my ops'", "module_name 'class'", "version 'v1'", "author_email 'x'"):
        assert field in err, err


def test_a_license_that_is_not_offered_is_refused(tmp_path):
    # cookiecutter itself checks a choice variable before the hook runs
    with pytest.raises(ValueError, match="GPL-3.0"):
        bake(tmp_path / "out", license="GPL-3.0")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("answers", "folder", "module"),
    [
        ({"package_name": "A1"}, "A1", "a1"),
        ({"package_name": "lab.tools_x-ops"}, "lab.tools_x-ops", "lab_tools_x_ops"),
        ({"package_name": "my-ops", "module_name": "ops_for_me"}, "my-ops", "ops_for_me"),
        ({"package_name": "p" * 50, "author_email": ""}, "p" * 50, "p" * 50),
        ({"package_name": "ops", "version": "2.0.0rc1"}, "ops", "ops"),
    ],
)
def test_unusual_good_answers_are_accepted(tmp_path, answers, folder, module):
    project = bake(tmp_path / "out", **answers)
    assert project.name == folder
    assert (project / "src" / module / "ops.py").is_file()
    assert (project / "tests" / "test_ops.py").read_text().count(f"from {module}.ops import") == 1


def test_the_hooks_leave_no_rendered_copy_in_the_temporary_directory(tmp_path, monkeypatch):
    """cookiecutter renders each hook into a temporary file and keeps it; our hooks remove theirs."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # for cookiecutter, in this process
    monkeypatch.setenv("TMPDIR", str(temp))  # for the hooks, in theirs
    bake(tmp_path / "out", package_name="my-ops")
    with pytest.raises(FailedHookException):
        bake(tmp_path / "bad", package_name="my ops")
    assert os.listdir(temp) == []
    assert Path(tmp_path / "out" / "my-ops").is_dir()
