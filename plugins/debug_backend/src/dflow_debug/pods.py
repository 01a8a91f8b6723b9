"""Running one step attempt in a forked process, with a timeout and a clean end.

The driver is a single-threaded asyncio program, so forking it is safe and
cheap: the child starts with every module (and every OP class of the
submitting script) already imported, which is what makes a step cost a few
milliseconds instead of an interpreter start. Each child leads its own process
group; on exit, timeout or termination the whole group is killed, so no
process of a step outlives it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from typing import Callable, Dict, Optional, Set, Tuple

__all__ = ["PodRunner", "process_start_time", "pid_alive"]


def process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (to tell a live driver from a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
        return data.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: Optional[int], start_time: Optional[str]) -> bool:
    if not pid:
        return False
    now = process_start_time(pid)
    if now is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return False
    except OSError:
        return False
    return start_time is None or now == start_time


class PodRunner:
    """Forks step processes and keeps track of the live ones (for termination)."""

    def __init__(self, pods_dir: str) -> None:
        self.pods_dir = pods_dir
        os.makedirs(pods_dir, exist_ok=True)
        self.live: Set[int] = set()

    async def run(self, child: Callable[[], int], log_path: str, timeout: Optional[float] = None) -> Tuple[int, bool]:
        """Run ``child()`` in a forked process; return (exit code, timed out).

        A negative exit code is the signal that ended the process (-9 for a kill,
        -11 for a segfault).
        """
        loop = asyncio.get_running_loop()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.setpgid(0, 0)
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
                    signal.signal(sig, signal.SIG_DFL)
                fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.close(fd)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
                code = int(child() or 0)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                code = 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except Exception:  # noqa: BLE001
                    pass
                os._exit(code)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        marker = os.path.join(self.pods_dir, str(pid))
        with open(marker, "w") as f:
            f.write(log_path)
        self.live.add(pid)
        pidfd = os.pidfd_open(pid)
        done: asyncio.Future = loop.create_future()

        def on_exit() -> None:
            if not done.done():
                done.set_result(None)

        loop.add_reader(pidfd, on_exit)
        timed_out = False
        try:
            if timeout is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(done), timeout)
                except asyncio.TimeoutError:
                    timed_out = True
                    _kill_group(pid)
                    await done
            else:
                await done
        except asyncio.CancelledError:
            _kill_group(pid)
            os.waitpid(pid, 0)
            raise
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            # the child is a zombie now, so its pid (and group id) cannot be reused yet:
            # end whatever it left running in its group, then reap it
            _kill_group(pid)
            self.live.discard(pid)
            try:
                os.unlink(marker)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), timed_out

    def kill_all(self) -> None:
        for pid in list(self.live):
            _kill_group(pid)

    @staticmethod
    def kill_leftovers(pods_dir: str) -> None:
        """Kill the step processes a dead driver left behind (recorded in ``pods_dir``)."""
        if not os.path.isdir(pods_dir):
            return
        for name in os.listdir(pods_dir):
            if name.isdigit():
                _kill_group(int(name))
            try:
                os.unlink(os.path.join(pods_dir, name))
            except OSError:
                pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def env_for(extra: Dict[str, str]) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
