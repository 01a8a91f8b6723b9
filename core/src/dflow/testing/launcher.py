"""The step launcher conformance suite: what every :class:`dflow.launcher.StepLauncher` does.

An executor plugin's test module subclasses :class:`StepLauncherConformance` and
provides the ``launcher`` fixture (a new, not yet opened launcher)::

    from dflow.testing.launcher import StepLauncherConformance

    class TestMyLauncher(StepLauncherConformance):
        __test__ = True

        @pytest.fixture
        def launcher(self):
            return MyLauncher({"host": ...})

The suite prepares step directories the way the local engine does (see
:mod:`dflow.launcher`) and drives the launcher through :meth:`StepLauncher.run`, as the
engine does, checking exit codes, logs, outputs, the environment, timeouts, cancelling
from another launcher, and a Python OP run by the step runtime. ``poll_wait`` bounds how
long a slow launcher (a batch scheduler) may take to see a step end.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from ..contract import PYTHON_OP_SCRIPT, TASK_ENV, encode_value
from ..launcher import PreparedStep, StepLauncher

__all__ = ["StepLauncherConformance", "prepare_script_step", "prepare_python_step"]


def _dirs(root: Path) -> None:
    for d in ("inputs/parameters", "inputs/artifacts", "outputs/parameters", "outputs/artifacts", "workdir"):
        (root / d).mkdir(parents=True, exist_ok=True)


def prepare_script_step(root: Path, script: str, command: Optional[List[str]] = None, timeout: Optional[float] = None,
                        env: Optional[Dict[str, str]] = None) -> PreparedStep:
    """A prepared shell step below ``root``; ``script`` may use ``$ROOT`` for the step directory."""
    root = Path(root).resolve()
    _dirs(root)
    (root / "script").write_text(script.replace("$ROOT", str(root)))
    return PreparedStep(root=str(root), command=list(command or ["sh"]) + [str(root / "script")],
                        cwd=str(root / "workdir"), env=dict(env or {}), log_path=str(root / "log.txt"),
                        timeout=timeout, text_files=["script"], name="step", node_id="node-1", workflow_id="wf")


def prepare_python_step(root: Path, module: str, qualname: str, parameters: Dict[str, Any],
                        python_paths: Optional[List[str]] = None) -> PreparedStep:
    """A prepared Python OP step below ``root``: the runtime stub and its task file."""
    root = Path(root).resolve()
    _dirs(root)
    task = {
        "op": {"module": module, "qualname": qualname, "source": None, "source_file": None, "op_kwargs": {}},
        "slices": None, "slice_index": None,
        "inputs": {"parameters": {k: dict(zip(("text", "type"), encode_value(v))) for k, v in parameters.items()},
                   "artifacts": {}},
        "outputs_dir": str(root / "outputs"), "workdir": str(root / "workdir"),
        "progress_file": str(root / "progress"), "python_paths": list(python_paths or []),
        "step": {"name": "step", "key": None, "workflow": "wf"},
    }
    (root / "task.json").write_text(json.dumps(task))
    (root / "script").write_text(PYTHON_OP_SCRIPT)
    import dflow

    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(dflow.__file__)))
    env = {TASK_ENV: str(root / "task.json"), "PYTHONPATH": pkg_root}
    return PreparedStep(root=str(root), command=[sys.executable, str(root / "script")], cwd=str(root / "workdir"),
                        env=env, log_path=str(root / "log.txt"), task=task, inline=True,
                        text_files=["task.json", "script"], name="step", node_id="node-1", workflow_id="wf")


class StepLauncherConformance:
    """Subclass with ``__test__ = True`` and a ``launcher`` fixture."""

    __test__ = False
    #: seconds a launcher may need to notice that a step ended (a scheduler's poll cycle)
    poll_wait: float = 60.0

    @pytest.fixture
    def launcher(self) -> StepLauncher:
        raise NotImplementedError("a StepLauncherConformance subclass must provide a `launcher` fixture")

    @pytest.fixture
    def opened(self, launcher: StepLauncher, tmp_path: Path) -> Any:
        launcher.open(str(tmp_path))
        yield launcher
        launcher.close()

    # ------------------------------------------------------------------ helpers

    def run(self, launcher: StepLauncher, step: PreparedStep,
            on_launch: Any = None) -> Tuple[int, bool, List[Dict[str, Any]]]:
        handles: List[Dict[str, Any]] = []

        def report(handle: Dict[str, Any], status: Dict[str, str]) -> None:
            json.dumps(handle)  # handles are plain JSON
            json.dumps(status)
            handles.append(handle)
            if on_launch is not None and len(handles) == 1:
                on_launch(handle)

        code, timed_out = asyncio.run(launcher.run(step, report))
        return code, timed_out, handles

    # ------------------------------------------------------------------ the promises

    def test_a_step_runs_and_its_outputs_and_log_come_back(self, opened: StepLauncher, tmp_path: Path) -> None:
        step = prepare_script_step(tmp_path / "s", "echo hello from the step\n"
                                                   "echo 42 > $ROOT/outputs/parameters/answer\n"
                                                   "mkdir -p $ROOT/outputs/artifacts/a && echo x > $ROOT/outputs/artifacts/a/f\n")
        code, timed_out, handles = self.run(opened, step)
        assert (code, timed_out) == (0, False)
        assert handles, "the launcher reported no handle"
        root = Path(step.root)
        assert (root / "outputs" / "parameters" / "answer").read_text().strip() == "42"
        assert (root / "outputs" / "artifacts" / "a" / "f").read_text().strip() == "x"
        assert "hello from the step" in (root / "log.txt").read_text()

    @pytest.mark.parametrize("exit_code", [1, 3])
    def test_the_exit_code_is_reported(self, opened: StepLauncher, tmp_path: Path, exit_code: int) -> None:
        step = prepare_script_step(tmp_path / "s", f"echo failing >&2\nexit {exit_code}\n")
        code, timed_out, _ = self.run(opened, step)
        assert (code, timed_out) == (exit_code, False)
        assert "failing" in Path(step.log_path).read_text()

    def test_environment_and_working_directory(self, opened: StepLauncher, tmp_path: Path) -> None:
        step = prepare_script_step(tmp_path / "s", 'echo "$DFLOW_TEST_VALUE" > $ROOT/outputs/parameters/v\n'
                                                   "pwd > $ROOT/outputs/parameters/cwd\n",
                                   env={"DFLOW_TEST_VALUE": "it is set"})
        code, _, _ = self.run(opened, step)
        assert code == 0
        root = Path(step.root)
        assert (root / "outputs" / "parameters" / "v").read_text().strip() == "it is set"
        assert (root / "outputs" / "parameters" / "cwd").read_text().strip().endswith("/workdir")

    def test_a_python_op_runs_through_the_step_runtime(self, opened: StepLauncher, tmp_path: Path) -> None:
        step = prepare_python_step(tmp_path / "s", "dflow.testing.ops", "AddOne", {"n": 41})
        code, _, _ = self.run(opened, step)
        log = Path(step.log_path).read_text() if os.path.exists(step.log_path) else ""
        assert code == 0, log
        out = Path(step.root) / "outputs" / "parameters"
        assert (out / "n").read_text() == "42"
        assert json.loads((out / ".types.json").read_text())["n"] == "int"

    def test_a_timeout_ends_the_step(self, opened: StepLauncher, tmp_path: Path) -> None:
        step = prepare_script_step(tmp_path / "s", "sleep 300\ntouch $ROOT/outputs/parameters/finished\n", timeout=2)
        start = time.monotonic()
        code, timed_out, _ = self.run(opened, step)
        assert timed_out and code != 0
        assert time.monotonic() - start < 2 + self.poll_wait, "the step outlived its timeout by far"
        time.sleep(0.5)
        assert not (Path(step.root) / "outputs" / "parameters" / "finished").exists()

    def test_cancel_from_a_new_launcher_stops_the_step(self, opened: StepLauncher, launcher_factory: Any,
                                                       tmp_path: Path) -> None:
        step = prepare_script_step(tmp_path / "s", "echo started > $ROOT/outputs/parameters/started\nsleep 300\n"
                                                   "touch $ROOT/outputs/parameters/finished\n")

        def cancel_soon(handle: Dict[str, Any]) -> None:
            def go() -> None:
                deadline = time.monotonic() + self.poll_wait
                started = Path(step.root) / "outputs" / "parameters" / "started"
                while not started.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                other = launcher_factory()  # as `dflow terminate` in another process would
                other.cancel(dict(handle))
            threading.Thread(target=go, daemon=True).start()

        code, timed_out, handles = self.run(opened, step, on_launch=cancel_soon)
        assert code != 0 and not timed_out
        assert not (Path(step.root) / "outputs" / "parameters" / "finished").exists()
        launcher_factory().cancel(dict(handles[0]))  # cancelling an ended step is harmless

    @pytest.fixture
    def launcher_factory(self, launcher: StepLauncher) -> Any:
        """New launchers of the same kind and options (default: the class with the launcher's ``options``)."""
        return lambda: type(launcher)(getattr(launcher, "options", None))
