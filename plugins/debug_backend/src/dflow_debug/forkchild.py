"""The fork server's own processes: they fork every attempt of a step on the driver's request.

Loaded by a fresh interpreter (see :class:`dflow_debug.forkserver.ForkLauncher`), so it
imports only the standard library and core's step runtime: whatever it imports, every
attempt's fork copies, and a smaller server forks faster. Nothing here imports the
local backend's package (``dflow_debug/__init__`` is lazy for that reason).

The server is two processes. The *manager* talks to the driver, hands each attempt its
job and reports how it ended. The *zygote*, its child, loads the step runtime and the
run's OPs, freezes them, and then only forks spares (attempts waiting for a job) and
reaps them. A process that forks shares every page with its children, and each page it
writes afterwards costs it a copy (a fault): so the process that forks does as little as
it can, and the process that works never forks an attempt.

Protocol (a Unix socket to the manager): driver -> manager first the run's OPs to load (a
message of request id 0, the pickle of their list), then for each attempt a request, a
12-byte header (the payload's length, the request id) and a payload, the pickle of
``{"job", "log"}``;
manager -> driver fixed records of a kind, the request id and a value: ``p`` with the pid
when the attempt started, ``c`` with the exit code when it ended (``-N``: ended by signal
``N``). The manager never unpickles a payload: it writes the bytes to the spare's job
pipe. Manager -> zygote: a message carrying a new spare's two pipe ends (its job, its
status); zygote -> manager: ``f`` with the spare's pid when forked, ``r`` with its exit
code when reaped.

An attempt of a Python OP writes its exit code on its status pipe just before it exits:
the manager sends the code at once, without waiting for the kernel to tear the process
down (about a millisecond). The zygote reaps every attempt when it is gone, ending its
process group first (a leader not yet reaped keeps its group id from being reused), so
nothing the attempt started outlives it; any process that left the attempt's session is
re-parented to the manager (a child subreaper), which ends it. An attempt that execs a
program or dies writes nothing, and the zygote's report gives its end.
"""

from __future__ import annotations

import os
import pickle
import select
import selectors
import signal
import socket
import struct
import sys
import traceback
from typing import Any, Dict, List, Optional, Set, Tuple

__all__ = ["serve_main", "request", "preload_message", "ReplyReader", "STARTED", "ENDED", "process_start_time", "pid_alive", "kill_group"]

_REQUEST = struct.Struct("!IQ")  # payload length, request id
_REPLY = struct.Struct("!cQq")  # b"p" (started: the pid) or b"c" (ended: the exit code), request id, value
_STATUS = struct.Struct("!i")
STARTED, ENDED = b"p", b"c"


def _stat_fields(pid: int) -> List[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (read once per attempt: plain
    system calls, not a text file object)."""
    fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return data.rsplit(b")", 1)[1].decode().split()


def process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (to tell a live process from a reused pid)."""
    try:
        return _stat_fields(pid)[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: Optional[int], start_time: Optional[str]) -> bool:
    if not pid:
        return False
    try:
        fields = _stat_fields(pid)
    except (OSError, IndexError):
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


def preload_message(ops: List[Dict[str, Any]]) -> bytes:
    """The first message to the server: the OPs of the run, which the zygote loads before it forks."""
    data = pickle.dumps(list(ops), protocol=pickle.HIGHEST_PROTOCOL)
    return _REQUEST.pack(len(data), 0) + data


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
    # a step writes to its own fds 1 and 2, which point at its log, line by line (made once
    # in the zygote, which never writes to them: an attempt inherits them, unwritten)
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr


def _fault_handler_to_log() -> None:
    # a crash (segfault) dumps the Python stack into the step's log (fd 2; armed once in the
    # zygote, as the attempts inherit signal handlers and the alternate signal stack)
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


def _receive_preload(chan: socket.socket) -> Tuple[Optional[List[Any]], bytearray]:
    """The driver's first message (the run's OPs), and what came after it; None if the driver went away first."""
    buf = bytearray()
    while True:
        if len(buf) >= _REQUEST.size:
            size, _rid = _REQUEST.unpack_from(buf)
            end = _REQUEST.size + size
            if len(buf) >= end:
                return pickle.loads(bytes(buf[_REQUEST.size:end])), buf[end:]
        try:
            data = chan.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            return None, buf
        buf += data


def serve_main(settings: Dict[str, Any]) -> None:  # pragma: no cover - the server process's entry
    """Run the fork server on the socket ``settings["fd"]`` (a fresh interpreter started by
    ``ForkLauncher.open``, maybe while the workflow still compiles): this process loads the
    step runtime, waits for the run's OPs, forks the zygote with them and becomes the manager."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    chan = socket.socket(fileno=int(settings["fd"]))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _become_subreaper()  # a process that left an attempt's session is re-parented here (not inherited by the zygote)
    import faulthandler  # noqa: F401 - every attempt arms it: imported once here, not in each attempt

    import dflow.runtime  # noqa: F401 - warm (before the OPs are known): every attempt starts with it imported

    preload, pending = _receive_preload(chan)
    if preload is None:  # the driver went away before its run started
        os._exit(0)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    zygote = os.fork()
    if zygote == 0:
        chan.close()
        ours.close()
        try:
            _zygote(theirs, preload)
        finally:
            os._exit(0)
    theirs.close()
    try:
        _Manager(chan, ours, zygote, pending).serve()
    finally:
        os._exit(0)


# ---------------------------------------------------------------- the zygote

_ZYGOTE = struct.Struct("!cqq")  # FORKED (pid, 0) or REAPED (pid, exit code), zygote -> manager
FORKED, REAPED = b"f", b"r"


def _zygote(ctl: socket.socket, preload: Any) -> None:  # pragma: no cover - runs in the zygote
    """Fork a spare for each request of the manager (which sends the spare's two pipe ends), and
    reap every attempt: end its process group first (an unreaped leader keeps the group id from
    being reused), then tell the manager how it ended."""
    import gc

    _preload(preload)
    _own_std_streams()  # (after the OPs' modules: one of them may have replaced sys.stdout)
    _fault_handler_to_log()
    gc.collect()
    gc.freeze()  # no attempt's garbage collector copies what the zygote holds
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, _ignore)
    live: Set[int] = set()
    waiting = [ctl, wake_r]
    while True:
        ready = select.select(waiting, [], [])[0]
        if wake_r in ready:
            try:
                while os.read(wake_r, 256):
                    pass
            except BlockingIOError:
                pass
            while live:
                try:
                    info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                except ChildProcessError:
                    break
                if info is None:
                    break
                kill_group(info.si_pid)  # what the attempt left running ends with it
                _, status = os.waitpid(info.si_pid, 0)
                live.discard(info.si_pid)
                _tell(ctl, live, REAPED, info.si_pid, os.waitstatus_to_exitcode(status))
        if ctl in ready:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(ctl, 16, 2, socket.MSG_CMSG_CLOEXEC)
            except OSError:
                msg, fds = b"", []
            if not msg or len(fds) != 2:  # the manager is gone
                _zygote_exit(live)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                ctl.close()
                os.close(wake_r)
                os.close(wake_w)
                _spare_main(fds[0], fds[1])
            try:
                os.setpgid(pid, pid)  # (the spare does it too: whichever runs first)
            except OSError:
                pass
            os.close(fds[0])
            os.close(fds[1])
            live.add(pid)
            _tell(ctl, live, FORKED, pid, 0)


def _ignore(_signum: int, _frame: Any) -> None:  # pragma: no cover - the zygote's SIGCHLD: the wakeup fd tells
    return None


def _tell(ctl: socket.socket, live: Set[int], kind: bytes, pid: int, value: int) -> None:  # pragma: no cover
    try:
        ctl.send(_ZYGOTE.pack(kind, pid, value))
    except OSError:  # the manager is gone
        _zygote_exit(live)


def _zygote_exit(live: Set[int]) -> None:  # pragma: no cover - runs in the zygote
    for pid in live:
        kill_group(pid)
    os._exit(0)


# ---------------------------------------------------------------- the manager


class _Spare:
    """An attempt's process forked ahead of time (by the zygote), waiting for its job on a pipe.

    Forking and resetting a process take a millisecond or two; done while the previous
    attempt runs, they are off the path from a request to the step running. The manager
    asks for a spare with the two pipes' ends, so it can hand over a job before the zygote
    has answered with the spare's pid.
    """

    __slots__ = ("job_fd", "status_fd", "pid", "rid", "reported")

    def __init__(self, job_fd: int, status_fd: int) -> None:
        self.job_fd: Optional[int] = job_fd
        self.status_fd: Optional[int] = status_fd
        self.pid: Optional[int] = None
        self.rid: Optional[int] = None  # the request it runs, once it has one
        self.reported = False  # its exit code was sent (from its status pipe)


def _spare_main(job_fd: int, status_fd: int) -> None:  # pragma: no cover - runs in the spare process
    os.setpgid(0, 0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    # what does not depend on the job is done before it arrives (the standard streams and the
    # fault handler, bound to fds 1 and 2, which the attempt points at its log, come from the zygote)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 2)
    os.close(devnull)
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


class _Manager:  # pragma: no cover - runs in the server process
    def __init__(self, chan: socket.socket, zygote_ctl: socket.socket, zygote_pid: int, pending: bytearray) -> None:
        self.chan, self.ctl, self.zygote = chan, zygote_ctl, zygote_pid
        self.sel = selectors.DefaultSelector()
        self.sel.register(chan, selectors.EVENT_READ, "driver")
        self.sel.register(zygote_ctl, selectors.EVENT_READ, "zygote")
        self.unforked: List[_Spare] = []  # asked of the zygote, in order, its pid not known yet
        self.spare: Optional[_Spare] = None  # the one the next request gets
        self.by_pid: Dict[int, _Spare] = {}
        self.buf = pending  # requests that came with the run's OPs

    def ask_spare(self) -> None:
        job_r, job_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            socket.send_fds(self.ctl, [b"s"], [job_r, status_w])
        finally:
            os.close(job_r)
            os.close(status_w)
        os.set_blocking(status_r, False)
        self.spare = _Spare(job_w, status_r)
        self.unforked.append(self.spare)

    def serve(self) -> None:
        self.ask_spare()
        if self.buf:
            self.take_requests()
        while True:
            for key, _ in self.sel.select():
                if key.data == "driver":
                    self.on_driver()
                elif key.data == "zygote":
                    self.on_zygote()
                else:
                    self.on_status(key.data)

    def shut_down(self) -> None:
        """The driver is gone: end every process it started, then exit."""
        self.ctl.close()  # the zygote ends every attempt and exits
        try:
            os.waitpid(self.zygote, 0)
        except ChildProcessError:
            pass
        _end_orphans(set())
        os._exit(0)

    def on_driver(self) -> None:
        data = self.chan.recv(1 << 20)
        if not data:
            self.shut_down()
        self.buf += data
        self.take_requests()

    def take_requests(self) -> None:
        """Hand each whole request received to the spare, and ask the zygote for the next spare."""
        buf = self.buf
        while len(buf) >= _REQUEST.size:
            size, rid = _REQUEST.unpack_from(buf)
            end = _REQUEST.size + size
            if len(buf) < end:
                break
            s = self.spare
            assert s is not None and s.job_fd is not None
            self.ask_spare()
            with memoryview(buf) as view:  # the payload as it came: the spare reads while the pipe fills
                _write_all(s.job_fd, view[_REQUEST.size:end])
            del buf[:end]
            os.close(s.job_fd)
            s.job_fd, s.rid = None, rid
            self.sel.register(s.status_fd, selectors.EVENT_READ, s)
            if s.pid is not None:
                self.chan.sendall(_REPLY.pack(STARTED, rid, s.pid))

    def drop_status(self, s: _Spare) -> None:
        if s.status_fd is not None:
            if s.rid is not None:  # its status pipe is watched from the moment it got its job
                self.sel.unregister(s.status_fd)
            os.close(s.status_fd)
            s.status_fd = None

    def on_status(self, s: _Spare) -> None:
        """An attempt says how it ended, just before it exits (end of file without a code: it
        exec'd a program, or died; the zygote's report tells)."""
        if s.status_fd is None:  # closed earlier in this batch of events (the zygote's report came first)
            return
        try:
            data = os.read(s.status_fd, _STATUS.size)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.drop_status(s)
        if len(data) == _STATUS.size and s.rid is not None and not s.reported:
            s.reported = True
            self.chan.sendall(_REPLY.pack(ENDED, s.rid, _STATUS.unpack(data)[0]))

    def on_zygote(self) -> None:
        data = self.ctl.recv(64)
        if not data:  # the zygote died: nothing can run any more
            self.chan.close()
            _end_orphans(set())
            os._exit(1)
        kind, pid, value = _ZYGOTE.unpack(data)
        if kind == FORKED:
            s = self.unforked.pop(0)
            s.pid = pid
            self.by_pid[pid] = s
            if s.rid is not None:  # its job was handed over before the zygote answered
                self.chan.sendall(_REPLY.pack(STARTED, s.rid, pid))
            return
        s = self.by_pid.pop(pid)
        if s.rid is None:  # the spare ended before it got a job (killed from outside)
            os.close(s.job_fd)
            self.drop_status(s)
            if s is self.spare:
                self.ask_spare()
            return
        self.drop_status(s)
        if not s.reported:
            self.chan.sendall(_REPLY.pack(ENDED, s.rid, value))
        _end_orphans({self.zygote})
