"""Benchmark of the dflow-ui page on a 10,000-slice run of the local backend.

Measured in one run (``make bench``, or ``python benchmarks/bench_ui.py``):

- **first paint, server**: a fresh ``dflow ui`` (nothing cached: three newer runs keep
  the measured one out of the server's start-up reading), from opening the run's event
  stream to its first ``snapshot`` event, medians of 5 (one new server each);
- **first paint, browser**: a fresh server and a running headless Chromium (new
  profile), from the navigation start to the frame in which the step tree shows the
  folded fan-out (``performance.now()``), medians of 5; and from a click on the run
  in the runs list to the same frame;
- **baseline**: ``Backend.list_steps`` on the same run (the read the server cannot
  avoid), median of 5; the first paints are also given as ratios to it;
- **memory**: the server's peak RSS (``VmHWM``) while a page follows a second
  10,000-slice run live from start to end, against the peak RSS of a bare process
  that only reads that run's steps once.

Target (issue "Watch and steer runs in the browser"): first paint under a second.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
SLICES = int(os.environ.get("BENCH_UI_SLICES", "10000"))
CHROMIUM = os.environ.get("DFLOW_UI_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def env_for(workdir: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(DFLOW_MODE="debug", DFLOW_DEBUG_WORKDIR=workdir)
    return env


def dflow_command() -> List[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "dflow")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "dflow.cli"]


class Server:
    """``dflow ui`` in a child process."""

    def __init__(self, workdir: str) -> None:
        self.proc = subprocess.Popen(dflow_command() + ["ui"], env=env_for(workdir), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
            if m:
                self.url, self.base, self.token = m.group(0), m.group(1), m.group(2)
                break
        else:
            raise SystemExit("dflow ui printed no URL")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def status(self, field: str) -> float:
        """A memory figure of the server process in MB (``VmRSS``, ``VmHWM``)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def first_snapshot(srv: Server, run_id: str) -> Tuple[float, int]:
    """Seconds from opening the run's event stream to its snapshot, and the snapshot's size in bytes."""
    t0 = time.perf_counter()
    req = urllib.request.Request(f"{srv.base}/api/runs/{run_id}/events?token={srv.token}")
    with urllib.request.urlopen(req, timeout=60) as res:
        for raw in res:
            line = raw.decode()
            if line.startswith("data: "):
                return time.perf_counter() - t0, len(line)
    raise SystemExit("the event stream ended before its snapshot")


def build_run(workdir: str, detach: bool) -> str:
    from local_engine import big_fanout

    from dflow import config

    config["mode"] = "debug"
    config["debug_workdir"] = workdir
    wf = big_fanout(SLICES)
    wf.submit(detach=detach)
    if not detach and wf.query_status() != "Succeeded":
        raise SystemExit(f"the {SLICES}-slice run ended {wf.query_status()}")
    return wf.id


def build_small_run(workdir: str) -> str:
    from local_engine import chain

    wf = chain(2)
    wf.submit()
    return wf.id


def read_steps_baseline(workdir: str, run_id: str) -> List[float]:
    from dflow.workflow import get_backend_for_mode

    backend = get_backend_for_mode("debug")
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        n = len(backend.list_steps(run_id))
        times.append(time.perf_counter() - t0)
    assert n == SLICES + 2, n
    return times


def bare_read_peak(workdir: str, run_id: str) -> float:
    """Peak RSS (MB) of a fresh process that imports dflow and reads the run's steps once."""
    code = ("import resource, sys\nfrom dflow.workflow import get_backend_for_mode\n"
            f"get_backend_for_mode('debug').list_steps({run_id!r})\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], env=env_for(workdir), capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


TREE_DRAWN = """() => new Promise(done => {
    const look = () => document.querySelector('.group-counts') ? done(performance.now()) : requestAnimationFrame(look);
    look(); })"""


def browser_paints(workdir: str, run_id: str) -> Optional[Tuple[List[float], List[float]]]:
    """Seconds to the drawn step tree: opening the run's address cold, and clicking it in the runs list."""
    if not os.path.exists(CHROMIUM):
        print(f"(no browser figures: {CHROMIUM} is missing; scripts/setup-chromium.sh installs it)")
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("(no browser figures: the Python package playwright is not installed)")
        return None
    cold, from_list = [], []
    with sync_playwright() as p:
        for _ in range(REPEATS):
            srv = Server(workdir)
            profile = tempfile.mkdtemp(prefix="dflow-ui-bench-profile-")
            ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
                                                       viewport={"width": 1440, "height": 900})
            try:
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                # a person's browser is already running: let this one finish starting first
                page.goto("about:blank")
                time.sleep(1.0)
                page.goto(f"{srv.url}#/run/{run_id}", wait_until="commit")
                cold.append(page.evaluate(TREE_DRAWN) / 1000)
                text = page.inner_text(".group-counts")
                assert f"{SLICES} slices" in text, text
                # the usual way in: the runs list (which counts each run's progress), then a click
                page.goto(srv.url)
                page.locator(f"tr.run-row[data-id='{run_id}'] td.progress", has_text=f"{SLICES}/{SLICES}").wait_for()
                t0 = page.evaluate("performance.now()")
                page.locator(f"tr.run-row[data-id='{run_id}'] a.run-name").click()
                from_list.append((page.evaluate(TREE_DRAWN) - t0) / 1000)
            finally:
                ctx.close()
                srv.stop()
                subprocess.run(["rm", "-rf", profile], check=False)
    return cold, from_list


def follow_live(workdir: str) -> Dict[str, Any]:
    """Submit a second run detached and follow it through a page's event stream to its end."""
    srv = Server(workdir)
    idle = srv.status("VmRSS")
    run_id = build_run(workdir, detach=True)
    events, done = [0], threading.Event()
    largest = [0]

    def listen() -> None:
        req = urllib.request.Request(f"{srv.base}/api/runs/{run_id}/events?token={srv.token}")
        with urllib.request.urlopen(req, timeout=600) as res:
            for raw in res:
                line = raw.decode()
                if line.startswith("data: "):
                    events[0] += 1
                    largest[0] = max(largest[0], len(line))
                    run = json.loads(line[6:]).get("run")
                    if run and run["phase"] not in ("Pending", "Running"):
                        done.set()
                        return

    t0 = time.perf_counter()
    threading.Thread(target=listen, daemon=True).start()
    rss = []
    while not done.wait(0.5):
        rss.append(srv.status("VmRSS"))
        if time.perf_counter() - t0 > 300:
            raise SystemExit("the live run did not finish within 300 s")
    result = {"seconds": time.perf_counter() - t0, "idle_mb": idle, "peak_mb": srv.status("VmHWM"),
              "end_mb": srv.status("VmRSS"), "median_mb": statistics.median(rss) if rss else float("nan"),
              "events": events[0], "largest_event_bytes": largest[0], "run": run_id}
    srv.stop()
    return result


def main() -> int:
    try:
        import dflow_ui  # noqa: F401
    except ImportError:
        print("dflow-ui is not installed (pip install -e plugins/ui); nothing to measure")
        return 0
    workdir = tempfile.mkdtemp(prefix="dflow-bench-ui-")
    os.chdir(workdir)
    t0 = time.perf_counter()
    run_id = build_run(workdir, detach=False)
    print(f"built a {SLICES}-slice run on the local backend in {time.perf_counter() - t0:.1f} s ({run_id})")
    # a fresh server reads the 3 newest runs at start; newer runs keep this one cold
    for _ in range(3):
        build_small_run(workdir)
    base = read_steps_baseline(workdir, run_id)
    server_paints, sizes = [], []
    for _ in range(REPEATS):
        srv = Server(workdir)
        try:
            seconds, size = first_snapshot(srv, run_id)
        finally:
            srv.stop()
        server_paints.append(seconds)
        sizes.append(size)
    browser = browser_paints(workdir, run_id)
    bare = bare_read_peak(workdir, run_id)
    live = follow_live(workdir)

    b = statistics.median(base)
    s = statistics.median(server_paints)
    print(f"\n{SLICES}-slice run, medians of {REPEATS} (a fresh server each time):\n")
    print("| measure | median (s) | vs. list_steps | target |")
    print("|---|---|---|---|")
    print(f"| baseline: Backend.list_steps of the run | {b:.3f} | 1.00x | |")
    print(f"| first paint, server (stream opened -> snapshot, {statistics.median(sizes)} bytes) | {s:.3f} | "
          f"{s / b:.2f}x | < 1 s{'' if s < 1 else ' (missed)'} |")
    if browser:
        for label, values in (("first paint, browser, cold (navigation -> step tree drawn)", browser[0]),
                              ("first paint, browser, from the runs list (click -> step tree drawn)", browser[1])):
            w = statistics.median(values)
            print(f"| {label} | {w:.3f} | {w / b:.2f}x | < 1 s{'' if w < 1 else ' (missed)'} |")
    print(f"\nserver memory while a page followed a second {SLICES}-slice run live ({live['seconds']:.1f} s, "
          f"{live['events']} events, largest {live['largest_event_bytes']} bytes):")
    print(f"  idle {live['idle_mb']:.0f} MB, median {live['median_mb']:.0f} MB, peak {live['peak_mb']:.0f} MB, "
          f"at the end {live['end_mb']:.0f} MB")
    print(f"  baseline: a bare process reading the run's steps once peaks at {bare:.0f} MB "
          f"(server peak / that = {live['peak_mb'] / bare:.2f}x)")
    print(json.dumps({"list_steps": base, "server_first_paint": server_paints, "browser_first_paint": browser,
                      "live": live, "bare_read_peak_mb": bare}))
    subprocess.run(["rm", "-rf", workdir], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
