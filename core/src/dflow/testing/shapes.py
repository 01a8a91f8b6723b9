"""A file or a folder: what a step finds at an input artifact's path, the same on every backend.

Mixed into :class:`dflow.testing.backend.BackendConformance`. On a cluster an artifact is
stored as the path the producing pod declared: a script's output that is a file is that
file, and a Python OP's output is the folder dflow's runtime fills (the file under its
name, beside its catalog). The step given it finds the same: a file at the input's own
path, or the folder. The original dflow's debug mode does the same (its inputs are links
to the producers' paths); the local backend once gave both as the file, named after it.

A part of an artifact taken with ``.sub_path()`` is likewise what the step finds at the
input's path: the file or the folder itself, as Argo downloads a ``subPath``, not a folder
holding it under its path inside the artifact.
"""

from __future__ import annotations

from typing import Optional

import dflow
from dflow.python import PythonOPTemplate

from . import ops

__all__ = ["ShapeChecks"]


def _maker() -> dflow.Step:
    """A script whose output artifact is the file it wrote, ``/tmp/out.txt`` (``hi``)."""
    t = dflow.ShellOPTemplate(name="make", image="alpine:3.15", script="printf hi > /tmp/out.txt")
    t.outputs.artifacts["o"] = dflow.OutputArtifact(path="/tmp/out.txt")
    return dflow.Step("make", t)


def _looker(path: str, script: str, sub_path: Optional[str] = None) -> dflow.ShellOPTemplate:
    """A script given an artifact at ``path`` (the part ``sub_path`` of it) that writes what it found to its
    output parameter ``o``."""
    t = dflow.ShellOPTemplate(name="look", image="alpine:3.15", script=script + " > /tmp/o.txt")
    t.inputs.artifacts["in"] = dflow.InputArtifact(path=path, sub_path=sub_path)
    t.outputs.parameters["o"] = dflow.OutputParameter(value_from_path="/tmp/o.txt")
    return t


class ShapeChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``)."""

    def _seen(self, name: str, make: dflow.Step, output: str, look: dflow.ShellOPTemplate) -> str:
        """What ``look`` found, given ``make``'s output artifact ``output``."""
        wf = dflow.Workflow(name)
        wf.add(make)
        wf.add(dflow.Step("look", look, artifacts={"in": make.outputs.artifacts[output]}))
        self.run(wf)  # type: ignore[attr-defined]
        return self.one(wf, name="look").outputs.parameters["o"].value  # type: ignore[attr-defined]

    def test_a_python_ops_file_output_reaches_a_script_as_the_folder_holding_it(self) -> None:
        make = dflow.Step("make", PythonOPTemplate(ops.WriteFile), parameters={"text": "hi", "name": "f.txt"})
        look = _looker("/tmp/in", "if [ -d /tmp/in ]; then echo \"folder:$(cat /tmp/in/f.txt)\"; else echo file; fi")
        assert self._seen("op-file-to-script", make, "out", look) == "folder:hi"

    def test_a_scripts_file_output_reaches_a_python_op_as_the_file_named_after_the_input(self) -> None:
        make = _maker()
        wf = dflow.Workflow("script-file-to-op")
        wf.add(make)
        wf.add(dflow.Step("look", PythonOPTemplate(ops.NameAndText), artifacts={"x": make.outputs.artifacts["o"]}))
        self.run(wf)  # type: ignore[attr-defined]
        out = self.one(wf, name="look").outputs.parameters  # type: ignore[attr-defined]
        found = (out["name"].value, out["is_file"].value, out["text"].value)
        assert found == ("x", True, "hi"), found

    def test_a_scripts_file_output_reaches_a_script_as_the_file(self) -> None:
        look = _looker("/tmp/in.txt", "if [ -f /tmp/in.txt ]; then cat /tmp/in.txt; else echo folder; fi")
        assert self._seen("script-file-to-script", _maker(), "o", look) == "hi"

    def _sub_path_seen(self, name: str, sub: str, look: object, how: str = "method") -> object:
        """The outputs of ``look`` given ``sub`` of a Python OP's folder (``out/a.txt``, ``out/sub/b.txt``), taken
        the ways dflow has: ``.sub_path(sub)`` (``method``), ``"{{steps.make.outputs.artifacts.out}}/<sub>"``
        (``text``), or by the template (``template``: ``look`` has ``InputArtifact(sub_path=sub)``)."""
        make = dflow.Step("make", PythonOPTemplate(ops.NestedFolder), parameters={"text": "hi"})
        whole = make.outputs.artifacts["out"]
        given: object = whole  # (template)
        if how == "method":
            given = whole.sub_path(sub)
        elif how == "text":
            given = f"{{{{steps.make.outputs.artifacts.out}}}}/{sub}"
        input_name = "x" if isinstance(look, PythonOPTemplate) else "in"
        wf = dflow.Workflow(name)
        wf.add(make)
        wf.add(dflow.Step("look", look, artifacts={input_name: given}))
        self.run(wf)  # type: ignore[attr-defined]
        out = self.one(wf, name="look").outputs.parameters  # type: ignore[attr-defined]
        return {k: v.value for k, v in out.items()}

    def test_a_sub_path_naming_a_file_is_that_file_at_the_inputs_path(self) -> None:
        for how in ("method", "text"):
            found = self._sub_path_seen(f"sub-path-file-{how}", "out/a.txt", PythonOPTemplate(ops.NameAndText), how)
            assert (found["name"], found["is_file"], found["text"]) == ("x", True, "hi"), (how, found)
        look = _looker("/tmp/in.txt", "if [ -f /tmp/in.txt ]; then cat /tmp/in.txt; else echo folder; fi")
        assert self._sub_path_seen("sub-path-file-script", "out/a.txt", look)["o"] == "hi"

    def test_a_sub_path_naming_a_folder_is_that_folder_at_the_inputs_path(self) -> None:
        found = self._sub_path_seen("sub-path-dir", "out/sub", PythonOPTemplate(ops.FolderFiles))
        assert (found["name"], found["files"]) == ("x", ["b.txt"]), found
        for how in ("method", "text", "template"):
            look = _looker("/tmp/in", "{ cat /tmp/in/b.txt || find /tmp/in; }", "out/sub" if how == "template" else None)
            assert self._sub_path_seen(f"sub-path-dir-script-{how}", "out/sub", look, how)["o"] == "hi", how
