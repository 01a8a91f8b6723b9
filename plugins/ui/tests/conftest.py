"""Fixtures of the dflow-ui tests: a real ``dflow ui`` server, real runs, a real browser.

- ``ui``: ``dflow ui`` started as a child process on a free port of 127.0.0.1,
  watching a fresh local-backend work directory; the URL is read from what it prints.
- ``submit(name)``: a workflow of ``ui_workflows.py`` submitted detached, from a
  process of its own, into that directory.
- ``page``: a page of Debian's Chromium (``/usr/bin/chromium``, or
  ``DFLOW_UI_CHROMIUM``) driven by Playwright, headless, with a new empty profile.
  Without Chromium the browser tests are skipped with the reason, except in CI
  (``CI`` set), where they fail: ``scripts/setup-chromium.sh`` installs it.
- ``shoot(page, name)``: a screenshot into the test run's output folder
  (``<pytest basetemp>/dflow-ui-screenshots``, printed at the end of the run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CHROMIUM = os.environ.get("DFLOW_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
#: a secret the server must never show (set in the environment of the server and of the runs)
SECRET = "s3cr3t-9f1c2d7e-never-shown"

_SHOTS: List[Path] = []


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

    def events(self, path: str, count: int, timeout: float = 20) -> List[Tuple[str, Any]]:
        """The first ``count`` events of an event stream."""
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(f"{self.base}{path}{sep}token={self.token}")
        out: List[Tuple[str, Any]] = []
        deadline = time.monotonic() + timeout
        with urllib.request.urlopen(req, timeout=timeout) as res:
            name = None
            for raw in res:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    out.append((name, json.loads(line[6:])))
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
            import threading

            threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
            return srv
    proc.kill()
    raise AssertionError("dflow ui printed no URL:\n" + "".join(lines))


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


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    workdir = tmp_path_factory.mktemp("ui-runs")
    srv = start_ui(workdir)
    yield srv
    stop_ui(srv)
    # whatever a test left running (a failed assertion before a terminate) is stopped too
    for run_id in os.listdir(workdir):
        status = workdir / run_id / "status"  # the local backend's documented layout
        if status.exists() and status.read_text().strip() in ("Pending", "Running"):
            subprocess.run(dflow_command() + ["terminate", run_id], env=run_env(workdir), capture_output=True,
                           check=False)
    assert srv.proc.returncode == 0, "dflow ui did not stop cleanly:\n" + "".join(srv.output)


@pytest.fixture
def submit(ui: UIServer) -> Any:
    def _submit(name: str) -> str:
        done = subprocess.run([sys.executable, str(HERE / "ui_workflows.py"), name], env=run_env(ui.workdir),
                              cwd=str(ui.workdir), capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1]

    return _submit


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    why = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        why = f"Chromium is not installed at {CHROMIUM} (scripts/setup-chromium.sh installs Debian's chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "the Python package playwright is not installed (pip install -r requirements-dev.txt)"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; the browser tests must run in CI")
        pytest.skip(why)
    with sync_playwright() as p:
        yield p


@pytest.fixture
def page(playwright_driver: Any, tmp_path: Path) -> Iterator[Any]:
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1440, "height": 900}, accept_downloads=True)
    pg = context.pages[0] if context.pages else context.new_page()
    errors: List[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.page_errors = errors  # type: ignore[attr-defined]
    pg.set_default_timeout(20000)
    yield pg
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = Path(os.environ.get("DFLOW_UI_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "dflow-ui-screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def shoot(shots_dir: Path, request: pytest.FixtureRequest) -> Any:
    def _shoot(pg: Any, name: str) -> Path:
        path = shots_dir / f"{request.node.name}-{name}.png"
        pg.screenshot(path=str(path))
        _SHOTS.append(path)
        return path

    return _shoot


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SHOTS:
        terminalreporter.write_line(f"dflow-ui screenshots ({len(_SHOTS)}): {_SHOTS[0].parent}")


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
