"""A full disk in the middle of a run loses nothing: the run stops, what was written stays
readable, and after space is freed ``resume()`` finishes it without redoing finished steps.

The disk is a real, tiny tmpfs mounted by the test (needs root, as in CI).
"""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from dflow import Step, Workflow, config
from dflow.python import OP, PythonOPTemplate
from dflow.testing import ops


@OP.function
def fill_disk(ballast: str, once: str) -> {"ok": bool}:
    """The first time: writes ``ballast`` until the disk is full, then returns normally."""
    if os.path.exists(once):
        return {"ok": True}
    with open(once, "w") as f:
        f.write("filled")
    with open(ballast, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return {"ok": True}


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the full-disk test needs root")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_loses_nothing_and_the_run_resumes(tiny_disk, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_disk)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tiny_disk))
    log = tmp_path / "ran"  # outside the tiny disk
    ballast = tiny_disk / "ballast"
    wf = Workflow("full")
    wf.add(Step("a", PythonOPTemplate(ops.Record), parameters={"log": str(log), "tag": "a"}))
    wf.add(Step("fill", PythonOPTemplate(fill_disk), parameters={"ballast": str(ballast), "once": str(tmp_path / "once")}))
    wf.add(Step("b", PythonOPTemplate(ops.Record), parameters={"log": str(log), "tag": "b"}))
    wf.submit()
    phase = wf.query_status()
    assert phase in ("Failed", "Error"), phase
    # what was written before the disk filled up is intact and readable
    steps = {s.name: s for s in wf.query_step()}
    assert steps["a"].phase == "Succeeded" and steps["a"].outputs.parameters["tag"].value == "a"
    assert Path(log).read_text().split() == ["a"]
    # free the space and go on: "a" is not run again
    ballast.unlink()
    wf.resume()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert Path(log).read_text().split() == ["a", "b"]
