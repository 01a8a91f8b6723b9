"""Files move between local steps without copies where no step can tell the difference.

An output is the file its step wrote (a hard link, as dflow's runtime makes it), so a step
that returns a large file costs no copy of it. A step's inputs are its own copies by
default, as a pod's are; ``config["debug_copy_method"]`` (dflow's key) = ``"link"`` or
``"symlink"`` trades that for speed.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import List

import pytest

from dflow import InputArtifact, OutputArtifact, ShellOPTemplate, Step, Workflow, config
from dflow.errors import ValidationError
from dflow.linking import copy_file, link_or_copy, linker_within, place, symlink_or_copy
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate


class Make(OP):
    """Writes a folder (``data/big.bin``, ``data/small.txt``) and a file (``one.txt``)."""

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"dir": Artifact(Path), "file": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        Path("data").mkdir()
        Path("data/big.bin").write_bytes(b"x" * 4096)
        Path("data/small.txt").write_text("small")
        Path("one.txt").write_text("made")
        return OPIO({"dir": Path("data"), "file": Path("one.txt")})


class Change(OP):
    """Appends to its input file in place and passes it on; reports the input's inode and whether it is a link."""

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"file": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"file": Artifact(Path), "inode": int, "symlink": bool})

    @OP.exec_sign_check
    def execute(self, op_in):
        path = op_in["file"]
        facts = {"inode": os.stat(path).st_ino, "symlink": os.path.islink(path)}
        with open(path, "a") as f:
            f.write(" and changed")
        return OPIO({"file": path, **facts})


class Read(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"file": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"text": str})

    @OP.exec_sign_check
    def execute(self, op_in):
        return OPIO({"text": op_in["file"].read_text()})


def _run(*steps: Step) -> Workflow:
    wf = Workflow("copies")
    for s in steps:
        wf.add(s)
    wf.submit()
    assert wf.wait() == "Succeeded", wf.query().message
    return wf


def _ino(path: Path) -> int:
    return os.stat(path).st_ino


def test_an_output_is_the_file_the_step_wrote_not_a_copy(local):
    wf = _run(Step("make", PythonOPTemplate(Make)))
    sdir = Path(wf.query_step(name="make")[0].workdir)
    out = sdir / "outputs" / "artifacts"
    assert _ino(out / "file" / "one.txt") == _ino(sdir / "workdir" / "one.txt")
    assert _ino(out / "dir" / "data" / "big.bin") == _ino(sdir / "workdir" / "data" / "big.bin")


def test_a_scripts_output_and_its_input_at_its_path_are_links_not_copies(local):
    make = Step("make", PythonOPTemplate(Make))
    sh = ShellOPTemplate(name="sh", script="cat /tmp/in/data/big.bin > /tmp/out.bin")
    sh.inputs.artifacts = {"in": InputArtifact(path="/tmp/in")}
    sh.outputs.artifacts = {"out": OutputArtifact(path="/tmp/out.bin")}
    wf = _run(make, Step("sh", sh, artifacts={"in": make.outputs.artifacts["dir"]}))
    sdir = Path(wf.query_step(name="sh")[0].workdir)
    assert _ino(sdir / "outputs" / "artifacts" / "out" / "out.bin") == _ino(sdir / "workdir" / "tmp" / "out.bin")
    staged = sdir / "inputs" / "artifacts" / "in" / "data" / "big.bin"
    assert _ino(sdir / "workdir" / "tmp" / "in" / "data" / "big.bin") == _ino(staged)
    assert (sdir / "outputs" / "artifacts" / "out" / "out.bin").read_bytes() == b"x" * 4096


@OP.function
def hand_over(path: str) -> {"f": Artifact(Path)}:
    return {"f": Path(path)}


def test_a_file_from_elsewhere_on_the_machine_is_copied(local):
    """A file the step did not write (named by its absolute path) is copied: changing it later changes no artifact."""
    theirs = local / "elsewhere" / "data.txt"
    theirs.parent.mkdir()
    theirs.write_text("before")
    wf = _run(Step("hand", PythonOPTemplate(hand_over), parameters={"path": str(theirs)}))
    theirs.write_text("after")  # in place: a link would change the artifact with it
    outputs = Path(wf.query_step(name="hand")[0].workdir) / "outputs" / "artifacts" / "f"
    [copied] = [p for p in outputs.rglob("data.txt")]
    assert copied.read_text() == "before"
    assert _ino(copied) != _ino(theirs)


def _change_then_read(local):
    make = Step("make", PythonOPTemplate(Make))
    change = Step("change", PythonOPTemplate(Change), artifacts={"file": make.outputs.artifacts["file"]})
    read = Step("read", PythonOPTemplate(Read), artifacts={"file": make.outputs.artifacts["file"]})
    wf = _run(make, change, read)
    made = Path(wf.query_step(name="make")[0].workdir) / "outputs" / "artifacts" / "file" / "one.txt"
    changed = wf.query_step(name="change")[0].outputs.parameters
    return wf, made, changed


def test_by_default_a_step_that_changes_an_input_in_place_changes_nothing_another_step_sees(local):
    wf, made, changed = _change_then_read(local)
    assert changed["inode"].value != _ino(made) and changed["symlink"].value is False
    assert made.read_text() == "made"
    assert wf.query_step(name="read")[0].outputs.parameters["text"].value == "made"


def test_link_copy_method_gives_a_step_hard_links_of_its_inputs(local, monkeypatch):
    monkeypatch.setitem(config, "debug_copy_method", "link")
    wf, made, changed = _change_then_read(local)
    assert changed["inode"].value == _ino(made) and changed["symlink"].value is False
    # the caveat: an input changed in place is changed for every step linked to it
    assert made.read_text() == "made and changed"
    assert wf.query_step(name="read")[0].outputs.parameters["text"].value == "made and changed"


def test_symlink_copy_method_gives_a_step_symbolic_links_to_its_inputs(local, monkeypatch):
    monkeypatch.setitem(config, "debug_copy_method", "symlink")
    wf, made, changed = _change_then_read(local)
    assert changed["symlink"].value is True and changed["inode"].value == _ino(made)
    assert made.read_text() == "made and changed"
    # the step passed its input (a link to another step's file) on: its output is a copy, not that file
    passed = Path(wf.query_step(name="change")[0].workdir) / "outputs" / "artifacts" / "file" / "one.txt"
    assert not passed.is_symlink() and _ino(passed) != _ino(made)


def test_an_unknown_copy_method_is_refused_before_anything_is_written(local, monkeypatch):
    monkeypatch.setitem(config, "debug_copy_method", "hardlink")
    before = sorted(os.listdir(local))
    wf = Workflow("refused")
    wf.add(Step("make", PythonOPTemplate(Make)))
    with pytest.raises(ValidationError, match=r"debug_copy_method.*'hardlink'.*'copy', 'link', 'symlink'"):
        wf.submit()
    assert sorted(os.listdir(local)) == before


def test_a_link_the_file_system_refuses_becomes_a_copy(tmp_path, monkeypatch):
    src = tmp_path / "a.txt"
    src.write_text("data")

    def refuse(*_args, **_kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    link_or_copy(str(src), str(tmp_path / "b.txt"))
    assert (tmp_path / "b.txt").read_text() == "data" and _ino(tmp_path / "b.txt") != _ino(src)


def test_linker_within_links_only_what_lies_inside_its_roots(tmp_path):
    inside, outside = tmp_path / "step", tmp_path / "user"
    inside.mkdir()
    outside.mkdir()
    (inside / "mine.txt").write_text("mine")
    (outside / "theirs.txt").write_text("theirs")
    (inside / "pointer.txt").symlink_to(outside / "theirs.txt")  # a link out of the step is followed, and copied
    dst = tmp_path / "dst"
    dst.mkdir()
    put = linker_within([str(inside)])
    for name in ("mine.txt", "pointer.txt"):
        place(str(inside / name), str(dst / name), put)
    place(str(outside / "theirs.txt"), str(dst / "theirs.txt"), put)
    assert _ino(dst / "mine.txt") == _ino(inside / "mine.txt")
    assert _ino(dst / "pointer.txt") != _ino(outside / "theirs.txt") and not (dst / "pointer.txt").is_symlink()
    assert _ino(dst / "theirs.txt") != _ino(outside / "theirs.txt")
    shutil.rmtree(dst)


@OP.function
def folder_and_file_inside() -> {"files": Artifact(List[Path])}:
    Path("traj").mkdir()
    Path("traj/0.traj").write_text("zero")
    Path("traj/1.traj").write_text("one")
    return {"files": [Path("traj"), Path("traj/0.traj")]}  # (dpgen2's calypso steps list both)


def test_an_output_listing_a_folder_and_a_file_inside_it_puts_that_file_once(local):
    wf = _run(Step("both", PythonOPTemplate(folder_and_file_inside)))
    out = Path(wf.query_step(name="both")[0].workdir) / "outputs" / "artifacts" / "files"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.traj")) == ["traj/0.traj", "traj/1.traj"]
    assert (out / "traj" / "0.traj").read_text() == "zero"


def test_putting_a_file_where_a_link_of_another_file_is_never_writes_through_it(tmp_path):
    theirs, mine = tmp_path / "theirs.txt", tmp_path / "mine.txt"
    theirs.write_text("theirs")
    mine.write_text("mine")
    for put in (link_or_copy, copy_file, symlink_or_copy):
        dst = tmp_path / f"dst-{put.__name__}"
        os.link(theirs, dst)  # what an earlier item (or the link copy method) left at that name
        put(str(mine), str(dst))
        assert dst.read_text() == "mine" and theirs.read_text() == "theirs"
        put(str(mine), str(dst))  # the same file again: nothing to do
        assert dst.read_text() == "mine"
