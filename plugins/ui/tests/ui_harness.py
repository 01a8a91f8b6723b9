"""What the dflow-ui tests share: a real ``dflow ui`` in a child process, requests, /proc.

(Kept out of ``conftest.py`` so that test modules import it by a name no other
folder's ``conftest`` shadows.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CHROMIUM = os.environ.get("DFLOW_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
#: a secret the server must never show (set in the environment of the server and of the runs)
SECRET = "s3cr3t-9f1c2d7e-never-shown"

def dflow_command() -> List[str]:
    exe = Path(sys.executable).with_name("dflow")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dflow.cli"]


def run_env(workdir: Path) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(DFLOW_MODE="debug", DFLOW_DEBUG_WORKDIR=str(workdir), DFLOW_S3_SECRET_KEY=SECRET,
               PYTHONUNBUFFERED="1")
    return env


@dataclass
class UIServer:
    """A running ``dflow ui`` and what it printed."""

    proc: subprocess.Popen
    url: str
    base: str
    token: str
    workdir: Path
    output: List[str] = field(default_factory=list)

    def get(self, path: str, token: Optional[str] = "", headers: Optional[Dict[str, str]] = None,
            timeout: float = 30) -> Tuple[int, bytes, Dict[str, str]]:
        """GET ``path`` (with this server's token unless another, or ``None`` for none, is given)."""
        sep = "&" if "?" in path else "?"
        tok = self.token if token == "" else token
        url = self.base + path + (f"{sep}token={tok}" if tok is not None else "")
        return _request(urllib.request.Request(url, headers=headers or {}), timeout)

    def json(self, path: str) -> Any:
        status, body, _ = self.get(path)
        assert status == 200, (status, body[:500])
        return json.loads(body)

    def post(self, path: str, header_token: Optional[str] = "", query_token: Optional[str] = None,
             timeout: float = 120) -> Tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if header_token is not None:
            headers["X-Dflow-Token"] = self.token if header_token == "" else header_token
        url = self.base + path + (f"?token={query_token}" if query_token else "")
        status, body, _ = _request(urllib.request.Request(url, data=b"{}", headers=headers, method="POST"), timeout)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def events(self, path: str, count: int, timeout: float = 20,
               headers: Optional[Dict[str, str]] = None) -> List[Tuple[str, Any, Optional[str]]]:
        """The first ``count`` events of an event stream: (name, data, id)."""
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(f"{self.base}{path}{sep}token={self.token}", headers=headers or {})
        out: List[Tuple[str, Any, Optional[str]]] = []
        deadline = time.monotonic() + timeout
        with urllib.request.urlopen(req, timeout=timeout) as res:
            name, event_id = None, None
            for raw in res:
                line = raw.decode().rstrip("\n")
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    out.append((name, json.loads(line[6:]), event_id))
                    name, event_id = None, None
                    if len(out) >= count:
                        return out
                if time.monotonic() > deadline:
                    break
        return out

    def wait_phase(self, run_id: str, phases: Tuple[str, ...], timeout: float = 60) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.json(f"/api/runs/{run_id}")
            if snap["run"] and snap["run"]["phase"] in phases:
                return snap
            assert time.monotonic() < deadline, f"run {run_id} is {snap['run'] and snap['run']['phase']}, not {phases}"
            time.sleep(0.2)


def _request(req: urllib.request.Request, timeout: float) -> Tuple[int, bytes, Dict[str, str]]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read(), dict(res.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def start_ui(workdir: Path, extra: Optional[List[str]] = None) -> UIServer:
    """``dflow ui`` as a child process; returns once it printed its URL."""
    proc = subprocess.Popen(dflow_command() + ["ui"] + (extra or []), env=run_env(workdir), cwd=str(workdir),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    lines: List[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
        if m:
            # keep reading what it prints, so the pipe never fills
            srv = UIServer(proc, m.group(0), m.group(1), m.group(2), workdir, lines)
            threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
            return srv
    proc.kill()
    raise AssertionError("dflow ui printed no URL:\n" + "".join(lines))


def submit_workflow(ui: UIServer, name: str, *args: str) -> str:
    """Workflow ``name`` of ``ui_workflows.py``, submitted detached into the server's work directory."""
    done = subprocess.run([sys.executable, str(HERE / "ui_workflows.py"), name, *args], env=run_env(ui.workdir),
                          cwd=str(ui.workdir), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def _drain(proc: subprocess.Popen, lines: List[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)


def stop_ui(srv: UIServer) -> None:
    if srv.proc.poll() is None:
        srv.proc.send_signal(signal.SIGINT)
        try:
            srv.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()


def docs_screenshot_wanted() -> bool:
    """``DFLOW_UI_DOCS_SCREENSHOT=1`` refreshes docs/ui-run-page.png (the README's picture)."""
    return os.environ.get("DFLOW_UI_DOCS_SCREENSHOT") == "1"


def copy_to_docs(path: Path) -> None:
    shutil.copyfile(path, REPO / "docs" / "ui-run-page.png")


# --------------------------------------------------------------------------- processes


def session_of(pid: int) -> Optional[int]:
    """The session id of a live process (``None`` once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: the fields start after the last ')'
    return int(stat.rsplit(")", 1)[1].split()[3])  # state, ppid, pgrp, session


def processes_in_session(sid: int) -> List[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and session_of(int(entry)) == sid:
            out.append(int(entry))
    return out


def find_process(pattern: str) -> List[int]:
    """Pids whose command line contains ``pattern``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pattern in cmd:
            out.append(int(entry))
    return out
