"""The fork server's own promises, beyond the launcher conformance suite.

The server is two processes (see :mod:`dflow_debug.forkchild`): a manager that talks to
the driver, and a zygote, its child, that forks every attempt. These tests start a real
server and act on its processes from outside, as a user, the kernel or a crash would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import List

import pytest

from dflow.testing.launcher import prepare_script_step
from dflow_debug.forkserver import ForkLauncher


def _children(pid: int) -> List[int]:
    out: List[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def _wait_for(predicate, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def launcher():
    fl = ForkLauncher()
    fl.open()
    yield fl
    fl.close()


def _zygote(fl: ForkLauncher) -> int:
    assert fl.server_pid is not None
    assert _wait_for(lambda: len(_children(fl.server_pid)) == 1), "the manager has one child, the zygote"
    return _children(fl.server_pid)[0]


def _run(fl: ForkLauncher, step) -> int:
    code, timed_out = asyncio.run(fl.run(step))
    assert not timed_out
    return code


def test_a_spare_killed_before_its_job_is_replaced(launcher: ForkLauncher, tmp_path: Path) -> None:
    assert _run(launcher, prepare_script_step(tmp_path / "a", "exit 0")) == 0
    zygote = _zygote(launcher)
    assert _wait_for(lambda: len(_children(zygote)) == 1), "the zygote keeps one spare ready"
    spare = _children(zygote)[0]
    os.kill(spare, signal.SIGKILL)
    assert _gone(spare)
    step = prepare_script_step(tmp_path / "b", "echo ran > $ROOT/outputs/parameters/x")
    assert _run(launcher, step) == 0
    assert (tmp_path / "b" / "outputs" / "parameters" / "x").read_text() == "ran\n"


def test_what_an_attempt_left_running_in_its_group_ends_with_it(launcher: ForkLauncher, tmp_path: Path) -> None:
    # a background process that stays in the attempt's process group (no new session)
    step = prepare_script_step(tmp_path / "s", "sleep 300 &\necho $! > $ROOT/outputs/parameters/pid\n")
    assert _run(launcher, step) == 0
    pid = int((tmp_path / "s" / "outputs" / "parameters" / "pid").read_text())
    assert _gone(pid), f"process {pid}, left running by the attempt, outlived it"


def test_the_exit_code_of_a_killed_attempt_is_its_signal(launcher: ForkLauncher, tmp_path: Path) -> None:
    step = prepare_script_step(tmp_path / "k", "kill -TERM $$\nsleep 5\n")
    assert _run(launcher, step) == -signal.SIGTERM


def test_a_dead_zygote_fails_the_waiting_attempts_instead_of_hanging(launcher: ForkLauncher, tmp_path: Path) -> None:
    assert _run(launcher, prepare_script_step(tmp_path / "a", "exit 0")) == 0
    zygote = _zygote(launcher)

    async def attempt_while_the_zygote_dies() -> None:
        task = asyncio.ensure_future(launcher.run(prepare_script_step(tmp_path / "b", "sleep 30")))
        await asyncio.sleep(0.3)
        os.kill(zygote, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="fork server of the local engine died"):
            await asyncio.wait_for(task, 20)

    asyncio.run(attempt_while_the_zygote_dies())
    assert _gone(launcher.server_pid), "the manager ends when its zygote is gone"


def test_one_launcher_serves_several_event_loops_and_the_synchronous_api(launcher: ForkLauncher,
                                                                          tmp_path: Path) -> None:
    # asyncio.run() makes a new event loop each time: the replies follow the loop that waits
    for i in range(2):
        assert _run(launcher, prepare_script_step(tmp_path / f"loop{i}", f"exit {i}")) == i
    handle = launcher.launch(prepare_script_step(tmp_path / "sync", "exit 3"))
    assert _wait_for(lambda: launcher.poll(None, handle) is not None)  # type: ignore[arg-type]
    assert _run(launcher, prepare_script_step(tmp_path / "after", "exit 4")) == 4


def test_the_driver_going_away_ends_every_process_of_the_server(tmp_path: Path) -> None:
    fl = ForkLauncher()
    fl.open()
    step = prepare_script_step(tmp_path / "s", "sleep 300 &\necho $! > $ROOT/outputs/parameters/pid\nsleep 300\n")
    handle = fl.launch(step)
    pid_file = tmp_path / "s" / "outputs" / "parameters" / "pid"
    assert _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
    background = int(pid_file.read_text())
    manager, zygote = fl.server_pid, _zygote(fl)
    fl.close()  # as when the driver's end of the socket closes
    for pid in (handle["pid"], background, zygote, manager):
        assert _gone(pid), f"process {pid} outlived the driver"


def test_a_closed_launcher_starts_a_new_server_when_used_again(tmp_path: Path) -> None:
    """``kill_all`` closes the fork server; a launcher used after that starts a new one, which
    gets its own first message (the run's OPs) and runs the attempt."""
    fl = ForkLauncher()
    try:
        fl.load([])
        assert _run(fl, prepare_script_step(tmp_path / "a", "exit 0")) == 0
        first = fl.server_pid
        fl.close()
        assert _run(fl, prepare_script_step(tmp_path / "b", "exit 3")) == 3
        assert fl.server_pid != first
    finally:
        fl.close()
