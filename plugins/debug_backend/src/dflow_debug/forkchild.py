"""The fork server's own process: it forks every attempt of a step on the driver's request.

Loaded by a fresh interpreter (see :class:`dflow_debug.forkserver.ForkLauncher`), so it
imports only the standard library and core's step runtime: whatever it imports, every
attempt's fork copies, and a smaller server forks faster. Nothing here imports the
local backend's package (``dflow_debug/__init__`` is lazy for that reason).

Protocol (a Unix socket to the server): driver -> server a request, a 12-byte header
(the payload's length, the request id) and a payload, the pickle of ``{"job", "log"}``;
server -> driver fixed records of a kind, the request id and a value: ``p`` with the pid
when the attempt started, ``c`` with the exit code when it ended (``-N``: ended by signal
``N``). The server never unpickles a payload, it hands the bytes to the attempt: whatever
the server allocates while attempts run lands on pages it shares with them, and each such
page costs a copy (a fault) in the server.

An attempt of a Python OP writes its exit code on a status pipe of its own just before it
exits: the server ends its process group and sends the code at once, without waiting for
the kernel to tear the process down (about a millisecond); the process is reaped, and any
process that left its session is ended, when it is gone. An attempt that execs a program
or dies writes nothing, and its end is known from its pidfd as before.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import traceback
from typing import Any, Dict, List, Optional, Set, Tuple

__all__ = ["serve_main", "request", "ReplyReader", "STARTED", "ENDED", "process_start_time", "pid_alive", "kill_group"]

_REQUEST = struct.Struct("!IQ")  # payload length, request id
_REPLY = struct.Struct("!cQq")  # b"p" (started: the pid) or b"c" (ended: the exit code), request id, value
_STATUS = struct.Struct("!i")
STARTED, ENDED = b"p", b"c"


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


def request(rid: int, job: Dict[str, Any], log_path: str) -> bytes:
    """A request for an attempt, as the driver sends it."""
    data = pickle.dumps({"job": job, "log": log_path}, protocol=pickle.HIGHEST_PROTOCOL)
    return _REQUEST.pack(len(data), rid) + data


class ReplyReader:
    """The driver's side: ``(kind, request id, value)`` records out of the server's stream."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> List[Tuple[bytes, int, int]]:
        buf = self.buf + data if self.buf else data
        n = len(buf) - len(buf) % _REPLY.size
        self.buf = buf[n:]
        return list(_REPLY.iter_unpack(buf[:n]))


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
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.update(job.get("env") or {})
    os.chdir(job["cwd"])
    if job.get("task") is not None:
        from dflow.runtime import run_task

        return int(run_task(job["task"]) or 0)
    os.execvp(job["command"][0], job["command"])
    return 127  # not reached


def _attempt(job: Dict[str, Any], log_path: str, status_fd: Optional[int] = None) -> None:  # pragma: no cover
    """Run the job; ``status_fd``: where the exit code is written before the process exits, so
    the server need not wait for the kernel to tear the process down to know it."""
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
        if status_fd is not None:
            try:
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a server that stopped listening: no signal
                os.write(status_fd, _STATUS.pack(code if -(1 << 31) <= code < (1 << 31) else 1))
            except (OSError, ValueError):
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


class _Spare:
    """An attempt's process forked ahead of time, waiting for its job on a pipe.

    Forking and resetting a process take a millisecond or two; done while the previous
    attempt runs, they are off the path from a request to the step running.
    """

    def __init__(self, pid: int, pidfd: int, job_fd: int, status_fd: int) -> None:
        self.pid, self.pidfd, self.job_fd, self.status_fd = pid, pidfd, job_fd, status_fd


def _spare_main(job_fd: int, status_fd: int) -> None:  # pragma: no cover - runs in the spare process
    os.setpgid(0, 0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    # what does not depend on the job is done before it arrives: the standard streams and
    # the fault handler are bound to fds 1 and 2, which the attempt points at its log
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 2)
    os.close(devnull)
    _own_std_streams()
    _fault_handler_to_log()
    data = bytearray()
    while True:
        chunk = os.read(job_fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    os.close(job_fd)
    if not data:  # the server went away before handing over a job
        os._exit(0)
    req = pickle.loads(data)
    _attempt(req["job"], req["log"], status_fd)


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _serve(chan: socket.socket) -> None:  # pragma: no cover - runs in the server process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _become_subreaper()
    import faulthandler  # noqa: F401 - every attempt arms it: imported once here, not in each attempt

    import dflow.runtime  # noqa: F401 - warm: every attempt starts with the runtime imported

    sel = selectors.DefaultSelector()
    sel.register(chan, selectors.EVENT_READ, None)
    buf = bytearray()
    running: Dict[int, Tuple[int, int]] = {}  # pidfd -> (pid, request id)
    statuses: Dict[int, int] = {}  # status pipe -> pidfd of its attempt
    reported: Set[int] = set()  # request ids whose exit code was sent (from the status pipe)

    def drop_status(pidfd: int) -> None:
        for fd in [f for f, p in statuses.items() if p == pidfd]:
            del statuses[fd]
            sel.unregister(fd)
            os.close(fd)

    spare: Optional[_Spare] = None

    def fork_spare() -> _Spare:
        sys.stdout.flush()
        sys.stderr.flush()
        job_r, job_w = os.pipe()
        status_r, status_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            sel.close()
            for fd in list(running):
                os.close(fd)
            for fd in statuses:
                os.close(fd)
            os.close(job_w)
            os.close(status_r)
            chan.close()
            _spare_main(job_r, status_w)
        os.close(job_r)
        os.close(status_w)
        os.set_blocking(status_r, False)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        pidfd = os.pidfd_open(pid)
        sel.register(pidfd, selectors.EVENT_READ, "spare")
        return _Spare(pid, pidfd, job_w, status_r)

    def known() -> Set[int]:
        return {p for p, _ in running.values()} | ({spare.pid} if spare is not None else set())

    while True:
        if spare is None:
            spare = fork_spare()
        for key, _ in sel.select():
            if key.data is None:
                data = chan.recv(1 << 20)
                if not data:  # the driver is gone: end every process it started
                    for pid, _rid in running.values():
                        kill_group(pid)
                    if spare is not None:
                        kill_group(spare.pid)
                    _end_orphans(set())
                    os._exit(0)
                buf += data
                while len(buf) >= _REQUEST.size:
                    size, rid = _REQUEST.unpack_from(buf)
                    end = _REQUEST.size + size
                    if len(buf) < end:
                        break
                    if spare is None:
                        spare = fork_spare()
                    s, spare = spare, None
                    with memoryview(buf) as view:  # the payload as it came: the spare reads while the pipe fills
                        _write_all(s.job_fd, view[_REQUEST.size:end])
                    del buf[:end]
                    os.close(s.job_fd)
                    running[s.pidfd] = (s.pid, rid)
                    sel.modify(s.pidfd, selectors.EVENT_READ, s.pid)
                    statuses[s.status_fd] = s.pidfd
                    sel.register(s.status_fd, selectors.EVENT_READ, "status")
                    chan.sendall(_REPLY.pack(STARTED, rid, s.pid))
            elif key.data == "spare":  # a spare ended before it got a job (killed from outside)
                assert spare is not None
                sel.unregister(spare.pidfd)
                os.close(spare.pidfd)
                os.close(spare.job_fd)
                os.close(spare.status_fd)
                os.waitpid(spare.pid, 0)
                spare = None
            elif key.data == "status":  # an attempt says how it ended, just before it exits
                pidfd = statuses.get(key.fd)
                if pidfd is None:  # closed earlier in this batch (its attempt's end came first)
                    continue
                try:
                    data = os.read(key.fd, _STATUS.size)
                except BlockingIOError:  # a stale event of a reused descriptor
                    continue
                except OSError:
                    data = b""
                # (end of file without a code: the attempt exec'd a program, or died; its pidfd tells)
                drop_status(pidfd)
                if len(data) == _STATUS.size and pidfd in running:
                    pid, rid = running[pidfd]
                    # what the attempt left running ends now; the process itself is reaped when it is gone
                    kill_group(pid)
                    reported.add(rid)
                    chan.sendall(_REPLY.pack(ENDED, rid, _STATUS.unpack(data)[0]))
            else:
                pidfd = key.fd
                pid, rid = running.pop(pidfd)
                sel.unregister(pidfd)
                drop_status(pidfd)
                os.close(pidfd)
                # the attempt is a zombie until reaped, so its group id cannot be reused yet:
                # end whatever it left running, then reap it and its escaped orphans
                kill_group(pid)
                _, status = os.waitpid(pid, 0)
                _end_orphans(known())
                if rid in reported:
                    reported.discard(rid)
                else:
                    chan.sendall(_REPLY.pack(ENDED, rid, os.waitstatus_to_exitcode(status)))
