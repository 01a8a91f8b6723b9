"""The local engine's default step launcher: every attempt forked from a pre-warmed parent.

Each step attempt runs in a fresh process, as a step on a cluster runs in a fresh
container: it sees nothing an earlier step left behind (environment variables,
imported modules, ``python_packages``, logging handlers, signal alarms, umask,
recursion limit). Starting it must stay cheap, and ``fork()`` costs time in proportion
to the memory of the process that forks (here 0.6 ms at 9 MB, 3 ms at 33 MB, 7 ms at
450 MB). So the fork server is a small, fresh interpreter that imports the step runtime
and the modules of the run's OPs (the sources of OPs defined in the submitting script
included), freezes what it holds (``gc.freeze``, so no child's garbage collector
copies it), and then never runs a step: it forks every attempt on request, so a child
starts with its OP loaded, without an interpreter start. A Python OP whose script no
executor changed runs the step runtime right in the forked child; anything else
``exec``s its command.

Nothing a step starts outlives it: each attempt leads its own process group, and the
server is a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so a process that left the
step's session (``setsid``, ``start_new_session=True``) is re-parented to the server
when its parents end; whenever an attempt ends, the server ends every such orphan. When
the driver goes away, the server ends everything it started and exits.

Protocol (a Unix socket to the server, frames of a 4-byte length and a pickle):
driver -> server ``{"id", "job", "log"}``; server -> driver ``{"id", "pid"}`` when the
attempt started and ``{"id", "code"}`` when it ended (``-N``: ended by signal ``N``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional, Set, Tuple

from dflow.launcher import LaunchHandle, PreparedStep, StepLauncher

__all__ = ["ForkLauncher", "process_start_time", "pid_alive", "kill_group"]

_HEADER = struct.Struct("!I")


def process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (to tell a live process from a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
        return data.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: Optional[int], start_time: Optional[str]) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    if fields[0] == "Z":
        return False
    return start_time is None or fields[19] == start_time


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


class _FrameReader:
    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list:
        self.buf += data
        out = []
        while len(self.buf) >= 4:
            (n,) = _HEADER.unpack_from(self.buf)
            if len(self.buf) < 4 + n:
                break
            out.append(pickle.loads(bytes(self.buf[4:4 + n])))
            del self.buf[:4 + n]
        return out


# ---------------------------------------------------------------- inside an attempt's process


def _own_std_streams() -> None:
    # the submitting process may have replaced sys.stdout/sys.stderr (pytest's capture,
    # a notebook's stream): a step writes to its own fds 1 and 2, which point at its log
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr


def _fault_handler_to_log() -> None:
    # a crash (segfault) dumps the Python stack into the step's log (fd 2), not into
    # whatever stream the submitting process had armed faulthandler on
    import faulthandler

    if faulthandler.is_enabled():
        faulthandler.disable()
    faulthandler.enable(file=sys.__stderr__ if sys.__stderr__ is not None else 2)


def _run_attempt(job: Dict[str, Any], log_path: str) -> int:  # pragma: no cover - runs in the attempt
    os.setpgid(0, 0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _own_std_streams()
    _fault_handler_to_log()
    os.environ.update(job.get("env") or {})
    os.chdir(job["cwd"])
    if job.get("task") is not None:
        from dflow.runtime import run_task

        return int(run_task(job["task"]) or 0)
    os.execvp(job["command"][0], job["command"])
    return 127  # not reached


def _attempt(job: Dict[str, Any], log_path: str) -> None:  # pragma: no cover
    code = 1
    try:
        code = _run_attempt(job, log_path)
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


# ---------------------------------------------------------------- the fork server


def _become_subreaper() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _children() -> Set[int]:
    out: Set[int] = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                out.update(int(p) for p in f.read().split())
    except OSError:  # pragma: no cover
        pass
    return out


def _end_orphans(known: Set[int]) -> None:
    """End every child of the server that is not a running attempt: processes that left an
    attempt's session and were re-parented here when the attempt ended."""
    for _ in range(50):
        strays = _children() - known
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _preload(ops: Any) -> None:  # pragma: no cover - runs in the server process
    """Import the OPs of the run once, so every attempt starts with them loaded (failures: the step reports)."""
    from dflow.runtime import load_op_class

    for op in ops or []:
        try:
            load_op_class(op)
        except BaseException:  # noqa: BLE001 - the attempt that needs it says what is wrong
            pass


def serve_main(settings: Dict[str, Any]) -> None:  # pragma: no cover - the server process's entry
    """Run the fork server on the socket ``settings["fd"]`` (a fresh interpreter started by ``ForkLauncher.open``)."""
    import gc

    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    _preload(settings.get("preload"))
    gc.collect()
    gc.freeze()
    try:
        _serve(socket.socket(fileno=int(settings["fd"])))
    finally:
        os._exit(0)


def _serve(chan: socket.socket) -> None:  # pragma: no cover - runs in the server process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _become_subreaper()
    import dflow.runtime  # noqa: F401 - warm: every attempt starts with the runtime imported

    sel = selectors.DefaultSelector()
    sel.register(chan, selectors.EVENT_READ, None)
    reader = _FrameReader()
    running: Dict[int, Tuple[int, int]] = {}  # pidfd -> (pid, request id)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                data = chan.recv(1 << 20)
                if not data:  # the driver is gone: end every process it started
                    for pid, _rid in running.values():
                        kill_group(pid)
                    _end_orphans(set())
                    os._exit(0)
                for req in reader.feed(data):
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        sel.close()
                        for fd in list(running):
                            os.close(fd)
                        chan.close()
                        _attempt(req["job"], req["log"])
                    try:
                        os.setpgid(pid, pid)
                    except OSError:
                        pass
                    pidfd = os.pidfd_open(pid)
                    running[pidfd] = (pid, req["id"])
                    sel.register(pidfd, selectors.EVENT_READ, pid)
                    chan.sendall(_frame({"id": req["id"], "pid": pid}))
            else:
                pidfd = key.fd
                pid, rid = running.pop(pidfd)
                sel.unregister(pidfd)
                os.close(pidfd)
                # the attempt is a zombie until reaped, so its group id cannot be reused yet:
                # end whatever it left running, then reap it and its escaped orphans
                kill_group(pid)
                _, status = os.waitpid(pid, 0)
                _end_orphans({p for p, _ in running.values()})
                chan.sendall(_frame({"id": rid, "code": os.waitstatus_to_exitcode(status)}))


class ForkLauncher(StepLauncher):
    """Runs prepared steps on this machine, each attempt forked by the fork server."""

    poll_interval = 0.05

    def __init__(self, options: Optional[Dict[str, Any]] = None, preload: Optional[List[Dict[str, Any]]] = None) -> None:
        """``preload``: the OPs of the run (the task's ``op`` dicts) for the server to load once."""
        self.options = dict(options or {})
        self.preload = list(preload or [])
        self._chan: Optional[socket.socket] = None
        self._server: Optional[subprocess.Popen] = None
        self.server_pid: Optional[int] = None
        self._lock = threading.Lock()
        self._next = 0
        self._started: Dict[int, concurrent.futures.Future] = {}
        self._ended: Dict[int, concurrent.futures.Future] = {}
        self._ends: Dict[int, concurrent.futures.Future] = {}  # pid -> exit code (sync API)
        self._reader: Optional[threading.Thread] = None

    # ---------------------------------------------------------------- lifecycle

    def open(self, run_dir: str = "") -> None:
        if self._chan is not None:
            return
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        settings = {"fd": theirs.fileno(), "path": list(sys.path), "preload": self.preload}
        bootstrap = ("import json, os, sys; s = json.loads(os.environ.pop('DFLOW_FORK_SERVER')); "
                     "sys.path[:] = s['path']; from dflow_debug.forkserver import serve_main; serve_main(s)")
        env = {**os.environ, "DFLOW_FORK_SERVER": json.dumps(settings)}
        self._server = subprocess.Popen([sys.executable, "-c", bootstrap], env=env, pass_fds=[theirs.fileno()],
                                        stdin=subprocess.DEVNULL, close_fds=True)
        theirs.close()
        self.server_pid = self._server.pid
        self._chan = mine
        self._reader = threading.Thread(target=self._read, name="dflow-fork-server", daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Stop the fork server (it ends any attempt still running)."""
        if self._chan is None:
            return
        try:
            self._chan.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._chan.close()
        except OSError:
            pass
        self._chan = None
        if self._server is not None:
            try:
                self._server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a server that does not stop
                self._server.kill()
                self._server.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read(self) -> None:
        reader = _FrameReader()
        chan = self._chan
        assert chan is not None
        while True:
            try:
                data = chan.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                err = RuntimeError("the fork server of the local engine died")
                with self._lock:
                    futures = list(self._started.values()) + list(self._ended.values())
                for fut in futures:
                    if not fut.done():
                        fut.set_exception(err)
                return
            for msg in reader.feed(data):
                with self._lock:
                    table = self._started if "pid" in msg else self._ended
                    fut = table.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg["pid"] if "pid" in msg else msg["code"])

    def _request(self, step: PreparedStep) -> Tuple[concurrent.futures.Future, concurrent.futures.Future]:
        if self._chan is None:
            self.open()
        started: concurrent.futures.Future = concurrent.futures.Future()
        ended: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._next += 1
            rid = self._next
            self._started[rid] = started
            self._ended[rid] = ended
        job = {"cwd": step.cwd, "env": dict(step.env), "command": list(step.command),
               "task": step.task if step.inline else None}
        assert self._chan is not None
        self._chan.sendall(_frame({"id": rid, "job": job, "log": step.log_path}))
        return started, ended

    @staticmethod
    def _handle(pid: int) -> LaunchHandle:
        return {"pid": pid, "start": process_start_time(pid)}

    # ---------------------------------------------------------------- the seam

    def launch(self, step: PreparedStep) -> LaunchHandle:
        started, ended = self._request(step)
        pid = started.result()
        self._ends[pid] = ended
        return self._handle(pid)

    def poll(self, step: PreparedStep, handle: LaunchHandle) -> Optional[int]:
        ended = self._ends.get(handle["pid"])
        if ended is None:  # launched by another launcher (process): only liveness is known
            return None if pid_alive(handle["pid"], handle.get("start")) else -signal.SIGKILL
        if not ended.done():
            return None
        del self._ends[handle["pid"]]
        return ended.result()

    def cancel(self, handle: LaunchHandle) -> None:
        if pid_alive(handle.get("pid"), handle.get("start")):
            kill_group(int(handle["pid"]))

    def describe(self, handle: LaunchHandle) -> Dict[str, str]:
        return {}

    async def run(self, step: PreparedStep, report: Any = None) -> Tuple[int, bool]:
        """One attempt, waited for by events (no polling)."""
        started, ended = self._request(step)
        pid = await asyncio.wrap_future(started)
        handle = self._handle(pid)
        if report is not None:
            report(handle, {})
        done = asyncio.wrap_future(ended)
        timed_out = False
        try:
            if step.timeout is not None:
                try:
                    code = await asyncio.wait_for(asyncio.shield(done), step.timeout)
                except asyncio.TimeoutError:
                    timed_out = True
                    kill_group(pid)
                    code = await done
            else:
                code = await done
        except asyncio.CancelledError:
            kill_group(pid)
            raise
        return code, timed_out

