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

Nothing a step starts outlives it: each attempt leads its own process group, ended when
the attempt ends, and the server is a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so
a process that left the step's session (``setsid``, ``start_new_session=True``) is
re-parented to the server when its parents end; whenever an attempt ends, the server ends
every such orphan. When the driver goes away, the server ends everything it started and
exits.

The server can start before the run's OPs are known: ``Workflow.submit()`` starts it
while the workflow compiles (see ``LocalBackend.submitting``), hands it the OPs once the
spec is made, and the driver it forks then takes it over. The interpreter's start and the
runtime's import are then off the path to the first step.

This module is the driver's side; the server's processes (a manager, and a zygote that
does the forking) run :mod:`dflow_debug.forkchild`, which holds the protocol.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from dflow.launcher import LaunchHandle, PreparedStep, StepLauncher

from .forkchild import STARTED, ReplyReader, kill_group, pid_alive, preload_message, process_start_time, request

if TYPE_CHECKING:  # asyncio is imported where it is used: the process that submits a run starts the
    import asyncio  # server (see LocalBackend.submitting) and need not import it

__all__ = ["ForkLauncher", "process_start_time", "pid_alive", "kill_group"]


class ForkLauncher(StepLauncher):
    """Runs prepared steps on this machine, each attempt forked by the fork server."""

    poll_interval = 0.05

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        """The run's OPs come with :meth:`load` (none, if the first attempt is asked for first)."""
        self.options = dict(options or {})
        self._preload_sent = False
        self._chan: Optional[socket.socket] = None
        self._server: Optional[subprocess.Popen] = None
        self._own_server = True  # the server is this process's child (not one a parent process started)
        self.server_pid: Optional[int] = None
        self._lock = threading.Lock()
        self._next = 0
        # request id -> the future of its start (the pid) and of its end (the exit code): asyncio
        # futures when an event loop reads the replies, concurrent ones when a thread does
        self._started: Dict[int, Any] = {}
        self._ended: Dict[int, Any] = {}
        self._ends: Dict[int, Any] = {}  # pid -> exit code (sync API)
        self._reader: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None  # the loop that reads the replies (async API)
        self._replies = ReplyReader()

    # ---------------------------------------------------------------- lifecycle

    def open(self, run_dir: str = "") -> None:
        if self._chan is not None:
            return
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        settings = {"fd": theirs.fileno(), "path": list(sys.path)}
        bootstrap = ("import json, os, sys; s = json.loads(os.environ.pop('DFLOW_FORK_SERVER')); "
                     "sys.path[:] = s['path']; from dflow_debug.forkchild import serve_main; serve_main(s)")
        env = {**os.environ, "DFLOW_FORK_SERVER": json.dumps(settings)}
        self._server = subprocess.Popen([sys.executable, "-c", bootstrap], env=env, pass_fds=[theirs.fileno()],
                                        stdin=subprocess.DEVNULL, close_fds=True)
        theirs.close()
        self.server_pid = self._server.pid
        self._chan = mine
        # the replies are read by the event loop of the first run() (no thread between the server
        # and the engine), or by a thread of their own when the synchronous API comes first

    def load(self, ops: List[Dict[str, Any]]) -> None:
        """Give the server the run's OPs (the tasks' ``op`` dicts), which it loads once before it
        forks the first attempt (once per server: later calls do nothing)."""
        if self._preload_sent:
            return
        self.open()
        assert self._chan is not None
        self._preload_sent = True
        self._chan.sendall(preload_message(ops))

    def taken_over(self) -> "ForkLauncher":
        """In a forked process that takes the server over (the driver): this launcher, now its own.
        The server stays the child of the process that started it, which leaves the channel alone
        until that process has ended, then calls :meth:`close` to collect the server's exit."""
        self._own_server = False
        return self

    def close(self) -> None:
        """Stop the fork server (it ends any attempt still running)."""
        if self._chan is None:
            return
        if self._loop is not None:
            try:
                self._loop.remove_reader(self._chan.fileno())
            except (RuntimeError, ValueError):  # the loop is closed already
                pass
            self._fail_all()  # (a reader thread fails them when it sees the socket close)
        chan, self._chan = self._chan, None
        self._preload_sent = False  # (a server started again gets its own first message)
        try:
            chan.shutdown(socket.SHUT_WR)  # the server ends everything it started, then exits
        except OSError:
            pass
        if self._reader is not None:  # it reads to the server's end
            self._reader.join(timeout=30)
            ended = not self._reader.is_alive()
        else:
            ended = _read_to_end(chan, self.server_pid, timeout=30)
        if not ended and self.server_pid:  # pragma: no cover - a server that does not stop
            try:
                os.kill(self.server_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            chan.close()
        except OSError:
            pass
        if self._server is not None and self._own_server:
            try:
                self._server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a server that does not stop
                self._server.kill()
                self._server.wait()
        self._loop, self._reader, self._replies = None, None, ReplyReader()

    def _fail_all(self) -> None:
        err = RuntimeError("the fork server of the local engine died")
        with self._lock:
            futures = list(self._started.values()) + list(self._ended.values())
            self._started.clear()
            self._ended.clear()
        asyncio = sys.modules.get("asyncio")  # (no event loop, no asyncio futures: then not imported)
        for fut in futures:
            if not fut.done():
                fut.set_exception(err)
                if asyncio is not None and isinstance(fut, asyncio.Future):
                    fut.exception()  # whoever awaits it gets the error; no one else is told it went unread

    def _deliver(self, data: bytes) -> None:
        for kind, rid, value in self._replies.feed(data):
            with self._lock:
                fut = (self._started if kind == STARTED else self._ended).pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(value)

    def _receive(self, chan: socket.socket) -> bool:
        """Read what the server sent and settle the futures it answers; False at its end."""
        try:
            data = chan.recv(1 << 16)
        except BlockingIOError:  # nothing after all (a spurious wake-up)
            return True
        except OSError:
            data = b""
        if not data:
            self._fail_all()
            return False
        self._deliver(data)
        return True

    def _read(self) -> None:
        """The reader thread (synchronous API)."""
        chan = self._chan
        assert chan is not None
        while self._receive(chan):
            pass

    def _on_readable(self) -> None:
        """The event loop's reader (asynchronous API): called when a reply has come."""
        chan = self._chan
        if chan is not None and not self._receive(chan) and self._loop is not None:
            self._loop.remove_reader(chan.fileno())

    def _reading_by(self, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        """Make sure the replies are read: by ``loop`` (async API), or by a thread (``loop`` None,
        the synchronous API). Once a thread reads them, it does for both APIs."""
        if self._chan is None:
            self.open()
        assert self._chan is not None
        if self._reader is not None or (loop is not None and loop is self._loop):
            return
        if self._loop is not None:  # read by another loop (a new asyncio.run()), or the sync API now
            if self._started or self._ended:
                raise RuntimeError("this fork launcher has attempts running under another event loop: wait for "
                                   "them there, or run every attempt of one launcher in the same loop")
            try:
                self._loop.remove_reader(self._chan.fileno())
            except (RuntimeError, ValueError):  # that loop is closed: its registration went with it
                pass
            self._loop = None
        if loop is None:
            self._reader = threading.Thread(target=self._read, name="dflow-fork-server", daemon=True)
            self._reader.start()
        else:
            self._loop = loop
            loop.add_reader(self._chan.fileno(), self._on_readable)

    def _request(self, step: PreparedStep) -> Tuple[Any, Any]:
        """Send the request; the futures of its start (the pid) and end (the exit code): asyncio
        futures when the event loop reads the replies, else concurrent ones."""
        if self._loop is not None:
            started: Any = self._loop.create_future()
            ended: Any = self._loop.create_future()
        else:
            import concurrent.futures

            started = concurrent.futures.Future()
            ended = concurrent.futures.Future()
        with self._lock:
            self._next += 1
            rid = self._next
            self._started[rid] = started
            self._ended[rid] = ended
        job = {"cwd": step.cwd, "env": dict(step.env), "command": list(step.command),
               "task": step.task if step.inline else None}
        assert self._chan is not None
        if not self._preload_sent:  # no OPs were given: the server loads none
            self.load([])
        self._chan.sendall(request(rid, job, step.log_path))
        return started, ended

    @staticmethod
    def _handle(pid: int) -> LaunchHandle:
        return {"pid": pid, "start": process_start_time(pid)}

    # ---------------------------------------------------------------- the seam

    def launch(self, step: PreparedStep) -> LaunchHandle:
        self._reading_by(None)
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
        import asyncio

        self._reading_by(asyncio.get_running_loop())
        started, ended = self._request(step)
        if self._loop is None:  # read by a thread: its futures are concurrent ones
            started, ended = asyncio.wrap_future(started), asyncio.wrap_future(ended)
        pid = await started
        handle = self._handle(pid)
        if report is not None:
            report(handle, {})
        timed_out = False
        try:
            if step.timeout is not None:
                try:
                    code = await asyncio.wait_for(asyncio.shield(ended), step.timeout)
                except asyncio.TimeoutError:
                    timed_out = True
                    kill_group(pid)
                    code = await ended
            else:
                code = await ended
        except asyncio.CancelledError:
            kill_group(pid)
            raise
        return code, timed_out


def _read_to_end(chan: socket.socket, server_pid: Optional[int], timeout: float) -> bool:
    """Read (and drop) what the server still sends, until it has ended: its end of the channel
    closes (or, should another process hold a copy of that end, the server is gone); False if it
    has not ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    chan.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            if not chan.recv(1 << 16):
                return True
        except socket.timeout:
            if server_pid and not pid_alive(server_pid, None):
                return True
        except OSError:  # the channel broke: the server is gone
            return True
    return False
