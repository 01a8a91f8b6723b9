"""Running step attempts in their own processes, started by a fork server.

Each step attempt runs in a fresh process (its own process group), so a
timeout, a crash or a termination ends exactly that step and everything it
started. Starting it must stay cheap even when the driver holds the state of a
10,000-step fan-out: ``fork()`` costs time in proportion to the memory of the
process that forks (0.2 ms at 15 MB, 7 ms at 450 MB). So the driver forks, once
and early, a small *fork server*; the server forks each step on request. Its
children start with every module the submitting script imported (OP classes of
``__main__`` included) without an interpreter start.

Python OPs run in *warm workers*: processes forked by the server that run one
step after another (``dflow.runtime.run_task`` restores the working directory,
``sys.path`` and the environment after each). A worker runs one step at a time
and leads its own process group; a timeout, a crash or a termination kills the
worker's group and a new worker takes its place. Shell and script steps are
forked by the server for each attempt and ``exec`` their command.

Protocol (a Unix socket to the server, frames of a 4-byte length and a pickle):
driver -> server ``{"id", "job", "log"}`` or ``{"id", "worker": True}`` with the
worker's socket passed along (SCM_RIGHTS); server -> driver ``{"id", "pid"}``
when a process started and ``{"id", "code"}`` when it ended (a negative code is
the signal that ended it). When the driver goes away the server kills every
process it started and exits.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import traceback
from typing import Any, Dict, Optional, Set, Tuple

__all__ = ["PodRunner", "process_start_time", "pid_alive"]

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


def _kill_group(pid: int) -> None:
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


# ---------------------------------------------------------------- inside a step process


def _run_job(job: Dict[str, Any], log_path: str) -> int:  # pragma: no cover - runs in the step process
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
    if job["kind"] == "exec":
        os.chdir(job["cwd"])
        os.execvp(job["command"][0], job["command"])
    from dflow.runtime import run_task

    return int(run_task(job["task"]) or 0)


def _child(job: Dict[str, Any], log_path: str) -> None:  # pragma: no cover
    code = 1
    try:
        code = _run_job(job, log_path)
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


# ---------------------------------------------------------------- a warm worker


def _fault_handler_to_log() -> None:
    # a crash (segfault) dumps the Python stack into the step's log (fd 2), not into
    # whatever stream the submitting process had armed faulthandler on
    import faulthandler

    if faulthandler.is_enabled():
        faulthandler.disable()
    faulthandler.enable(file=sys.__stderr__ if sys.__stderr__ is not None else 2)


def _own_std_streams() -> None:
    # the submitting process may have replaced sys.stdout/sys.stderr (pytest's capture,
    # a notebook's stream): a step writes to its own fds 1 and 2, which point at its log
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr


def _worker(sock: socket.socket) -> None:  # pragma: no cover - runs in a worker process
    os.setpgid(0, 0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    from dflow.runtime import run_task

    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    _own_std_streams()
    _fault_handler_to_log()
    reader = _FrameReader()
    while True:
        data = sock.recv(1 << 20)
        if not data:
            os._exit(0)
        for req in reader.feed(data):
            log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
            env = req["job"].get("env") or {}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                code = int(run_task(req["job"]["task"]) or 0)
            except BaseException:  # noqa: BLE001 - run_task never raises; be safe anyway
                traceback.print_exc()
                code = 1
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:  # noqa: BLE001
                pass
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sock.sendall(_frame({"id": req["id"], "code": code}))


# ---------------------------------------------------------------- the fork server


def _serve(chan: socket.socket) -> None:  # pragma: no cover - runs in the server process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    sel.register(chan, selectors.EVENT_READ, None)
    reader = _FrameReader()
    fds: list = []
    running: Dict[int, Tuple[int, int]] = {}  # pidfd -> (pid, request id)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                data, new_fds, _flags, _addr = socket.recv_fds(chan, 1 << 20, 16)
                fds.extend(new_fds)
                if not data:  # the driver is gone: end every process it started
                    for pid, _rid in running.values():
                        _kill_group(pid)
                    os._exit(0)
                for req in reader.feed(data):
                    sys.stdout.flush()
                    sys.stderr.flush()
                    worker_fd = fds.pop(0) if req.get("worker") else None
                    pid = os.fork()
                    if pid == 0:
                        sel.close()
                        for fd in list(fds) + list(running):
                            os.close(fd)
                        if worker_fd is not None:
                            chan.close()
                            _worker(socket.socket(fileno=worker_fd))
                            os._exit(0)
                        chan.close()
                        _child(req["job"], req["log"])
                    if worker_fd is not None:
                        os.close(worker_fd)
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
                # the step is a zombie until reaped, so its group id cannot be reused yet:
                # end whatever it left running, then reap it
                _kill_group(pid)
                _, status = os.waitpid(pid, 0)
                chan.sendall(_frame({"id": rid, "code": os.waitstatus_to_exitcode(status)}))


class PodRunner:
    """Starts step processes through a fork server and waits for them (asyncio side)."""

    def __init__(self, pods_dir: str) -> None:
        self.pods_dir = pods_dir
        os.makedirs(pods_dir, exist_ok=True)
        self.live: Set[int] = set()
        self._next = 0
        self._started: Dict[int, asyncio.Future] = {}
        self._ended: Dict[int, asyncio.Future] = {}
        self._reader = _FrameReader()
        # idle warm workers and the busy ones: pid -> (socket, reader)
        self._idle: list = []
        self._workers: Dict[int, Tuple[socket.socket, _FrameReader]] = {}
        self._worker_ended: Dict[int, asyncio.Future] = {}
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the fork server
            mine.close()
            try:
                _serve(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.server_pid = pid
        self._chan = mine
        self._attached = False

    def _attach(self) -> None:
        if not self._attached:
            asyncio.get_running_loop().add_reader(self._chan.fileno(), self._on_response)
            self._attached = True

    def _on_response(self) -> None:
        data = self._chan.recv(1 << 16)
        if not data:
            err = RuntimeError("the fork server of the local engine died")
            for fut in list(self._started.values()) + list(self._ended.values()):
                if not fut.done():
                    fut.set_exception(err)
            asyncio.get_running_loop().remove_reader(self._chan.fileno())
            return
        for msg in self._reader.feed(data):
            rid = msg["id"]
            if "pid" in msg:
                fut = self._started.pop(rid, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg["pid"])
            else:
                fut = self._ended.pop(rid, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg["code"])

    def _request(self, msg: Dict[str, Any], fds: Tuple[int, ...] = ()) -> Tuple[asyncio.Future, asyncio.Future]:
        self._attach()
        loop = asyncio.get_running_loop()
        self._next += 1
        rid = self._next
        started: asyncio.Future = loop.create_future()
        ended: asyncio.Future = loop.create_future()
        self._started[rid] = started
        self._ended[rid] = ended
        msg["id"] = rid
        data = _frame(msg)
        if fds:
            sent = socket.send_fds(self._chan, [data], list(fds))
            if sent < len(data):
                self._chan.sendall(data[sent:])
        else:
            self._chan.sendall(data)
        return started, ended

    async def _worker(self) -> int:
        """An idle warm worker (started on demand)."""
        while self._idle:
            pid = self._idle.pop()
            if pid in self._workers:
                return pid
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        started, ended = self._request({"worker": True}, (theirs.fileno(),))
        theirs.close()
        pid = await started
        self._workers[pid] = (mine, _FrameReader())
        self._worker_ended[pid] = ended
        return pid

    async def run(self, job: Dict[str, Any], log_path: str, timeout: Optional[float] = None) -> Tuple[int, bool]:
        """Run ``job``; return (exit code, timed out).

        ``job`` is ``{"kind": "python", "task": <runtime task>, "env": {...}}`` (run by a
        warm worker) or ``{"kind": "exec", "command": [...], "cwd": ..., "env": {...}}``
        (a new process).
        """
        if job["kind"] == "python":
            return await self._run_in_worker(job, log_path, timeout)
        started, ended = self._request({"job": job, "log": log_path})
        pid = await started
        marker = os.path.join(self.pods_dir, str(pid))
        with open(marker, "w") as f:
            f.write(process_start_time(pid) or "")
        self.live.add(pid)
        timed_out = False
        try:
            if timeout is not None:
                try:
                    code = await asyncio.wait_for(asyncio.shield(ended), timeout)
                except asyncio.TimeoutError:
                    timed_out = True
                    _kill_group(pid)
                    code = await ended
            else:
                code = await ended
        except asyncio.CancelledError:
            _kill_group(pid)
            raise
        finally:
            self.live.discard(pid)
            try:
                os.unlink(marker)
            except OSError:
                pass
        return code, timed_out

    async def _run_in_worker(self, job: Dict[str, Any], log_path: str, timeout: Optional[float]) -> Tuple[int, bool]:
        loop = asyncio.get_running_loop()
        pid = await self._worker()
        sock, reader = self._workers[pid]
        done: asyncio.Future = loop.create_future()

        def on_data() -> None:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(sock.fileno())
                if not done.done():
                    done.set_result(None)  # the worker died: its exit code comes from the server
                return
            for msg in reader.feed(data):
                if not done.done():
                    done.set_result(msg["code"])

        loop.add_reader(sock.fileno(), on_data)
        marker = os.path.join(self.pods_dir, str(pid))
        with open(marker, "w") as f:
            f.write(process_start_time(pid) or "")
        self.live.add(pid)
        sock.sendall(_frame({"id": 0, "job": job, "log": log_path}))
        timed_out = False
        healthy = True
        try:
            try:
                code = await (asyncio.wait_for(asyncio.shield(done), timeout) if timeout is not None else done)
            except asyncio.TimeoutError:
                timed_out = True
                _kill_group(pid)
                code = await done
            if code is None:  # the worker process ended in the middle of the step
                healthy = False
                code = await self._worker_ended[pid]
        except asyncio.CancelledError:
            healthy = False
            _kill_group(pid)
            raise
        finally:
            self.live.discard(pid)
            if timed_out or not healthy:
                self._retire(pid)
            else:
                loop.remove_reader(sock.fileno())
                self._idle.append(pid)
            try:
                os.unlink(marker)
            except OSError:
                pass
        return code, timed_out

    def _retire(self, pid: int) -> None:
        _kill_group(pid)
        sock, _ = self._workers.pop(pid, (None, None))
        self._worker_ended.pop(pid, None)
        if sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(sock.fileno())
            except (RuntimeError, ValueError):
                pass
            sock.close()

    def kill_all(self) -> None:
        for pid in list(self.live):
            _kill_group(pid)

    def close(self) -> None:
        """Stop the fork server (it kills any step still running)."""
        for pid in list(self._workers):
            sock, _ = self._workers.pop(pid)
            sock.close()
        try:
            self._chan.close()
        except OSError:
            pass
        try:
            os.waitpid(self.server_pid, 0)
        except ChildProcessError:
            pass

    @staticmethod
    def kill_leftovers(pods_dir: str) -> None:
        """Kill the step processes a dead driver left behind (recorded in ``pods_dir``)."""
        if not os.path.isdir(pods_dir):
            return
        for name in os.listdir(pods_dir):
            path = os.path.join(pods_dir, name)
            if name.isdigit():
                try:
                    with open(path) as f:
                        start = f.read().strip() or None
                except OSError:
                    start = None
                if pid_alive(int(name), start):
                    _kill_group(int(name))
            try:
                os.unlink(path)
            except OSError:
                pass
