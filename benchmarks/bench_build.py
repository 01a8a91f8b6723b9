"""Building and compiling large workflows: the Python side, before anything runs (dflow core).

Three ways users build a large workflow, each at two sizes:
* ``dag``: tasks added one by one to a workflow (``wf.add(Task(...))``), every hundredth
  reading the output of the one before it;
* ``steps``: steps added one by one, each a group of its own (``wf.add(Step(...))``);
* ``calls``: function OPs called in a ``with DAG()`` block, all with the same name, so
  that each call is numbered (``add``, ``add-2``, ...).

For each: the median over ``--repeat`` runs of building the objects and of compiling them
to a WorkflowSpec, and the time per task. The time per task at the larger size against the
smaller one tells whether the cost grows with the size: 1.0x when each task costs the same
however many came before it, less when the fixed costs (imports) are spread over more tasks,
2x and more when each task scans the ones before it. The same figures for the project as it was before a change
(``BUILD_BASELINE_REV``, checked out under ``.bench/`` on first use and put first on
``PYTHONPATH``; ``BENCH_BASELINE=0`` leaves it out) are measured in the same run,
interleaved. Run: ``python benchmarks/bench_build.py``.
"""

# dflow's OP.function signs are dict literals in return annotations ({"y": int}),
# which ruff reads as forward references
# ruff: noqa: F821

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
BUILD_BASELINE_REV = "2c33bd0"  # before adding a step stopped scanning the steps added before it
SIZES = {"dag": (2000, 10000), "steps": (2000, 10000), "calls": (1000, 4000)}


def _build(kind: str, n: int) -> Any:
    from dflow import DAG, Step, Task, Workflow
    from dflow.python import OP, PythonOPTemplate

    @OP.function
    def add(a: int, b: int) -> {"c": int}:
        return {"c": a + b}

    if kind == "calls":
        with DAG("calls") as dag:
            for i in range(n):
                add(a=i, b=1)
        return Workflow("calls", dag=dag)
    t = PythonOPTemplate(add)
    wf = Workflow(kind)
    prev = None
    for i in range(n):
        b = prev.outputs.parameters["c"] if prev is not None and i % 100 == 0 else 1
        prev = (Task if kind == "dag" else Step)(f"t{i}", t, parameters={"a": i, "b": b})
        wf.add(prev)
    return wf


def _one(kind: str, n: int) -> Dict[str, float]:
    """Build and compile one workflow in this (fresh) process."""
    t0 = time.perf_counter()
    wf = _build(kind, n)
    t1 = time.perf_counter()
    wf.compile()
    t2 = time.perf_counter()
    return {"build": t1 - t0, "compile": t2 - t1}


def baseline_path() -> Optional[str]:
    """The baseline's ``core/src`` (a worktree made once under .bench/), or None."""
    if os.environ.get("BENCH_BASELINE", "1") == "0":
        return None
    src = ROOT / ".bench" / f"build-{BUILD_BASELINE_REV}"
    if not src.exists():
        (ROOT / ".bench").mkdir(exist_ok=True)
        done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(src), BUILD_BASELINE_REV],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"(no baseline: {done.stderr.strip()})", file=sys.stderr)
            return None
    return str(src / "core" / "src")


def _run(kind: str, n: int, path: Optional[str]) -> Dict[str, float]:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, __file__, "--one", kind, str(n)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{kind} {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one[0], int(args.one[1]))))
        return 0
    base = baseline_path()
    sides = [("this", None)] + ([(f"before ({BUILD_BASELINE_REV})", base)] if base else [])
    print(f"building and compiling large workflows, medians of {args.repeat} runs, each in a fresh process, "
          f"the sides interleaved (Python {sys.version.split()[0]})")
    head = f"{'workflow':<8}{'tasks':>7}  {'side':<18}{'build s':>9}{'compile s':>11}{'us per task':>13}{'growth':>8}"
    print(head)
    print("-" * len(head))
    for kind, sizes in SIZES.items():
        per: Dict[str, List[float]] = {}
        rows = []
        for n in sizes:
            runs: Dict[str, List[Dict[str, float]]] = {side: [] for side, _ in sides}
            for i in range(args.repeat):
                for side, path in (sides if i % 2 == 0 else list(reversed(sides))):
                    runs[side].append(_run(kind, n, path))
            for side, _ in sides:
                build = statistics.median(r["build"] for r in runs[side])
                comp = statistics.median(r["compile"] for r in runs[side])
                us = (build + comp) / n * 1e6
                per.setdefault(side, []).append(us)
                rows.append((n, side, build, comp, us))
        for n, side, build, comp, us in rows:
            growth = f"{us / per[side][0]:.1f}x" if n == sizes[-1] else ""
            print(f"{kind:<8}{n:>7}  {side:<18}{build:>9.3f}{comp:>11.3f}{us:>13.0f}{growth:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
