"""Benchmarks of the local engine: the workloads of issue "The local backend at parity".

Run with ``make bench`` (or ``python benchmarks/run.py``). Each workload runs in a
fresh process several times; the table gives medians. Two baselines are measured in
the same run:

* the previous engine (the project at ``BASELINE_REV``, before every step was isolated
  in a process of its own), checked out and installed under ``.bench/`` on first use
  (``BENCH_BASELINE=0`` skips it); its runs are interleaved with the current engine's,
  so both see the same machine;
* the cost of starting a Python interpreter that imports dflow (what a step costs when
  every step is a new interpreter, as in the original dflow's debug mode).

Every workload runs twice over: with its run directory on the disk (``TMPDIR``, where a
user's runs go), then on tmpfs (``/dev/shm``; ``BENCH_TMPFS=0`` leaves it out). A disk
whose file creation is slow (ext4 without a journal, right after many files were deleted)
adds the same cost to both engines and hides their own; tmpfs shows it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from dflow import DAG, InputParameter, Step, Steps, Task, Workflow, argo_range, config
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate, Slices


class PassOn(OP):
    """Takes an int and a small file; returns int + 1 and a new small file."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"n": int, "f": Artifact(Path, optional=True)})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"n": int, "f": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        p = Path("f.txt")
        p.write_text(str(op_in["n"]))
        return OPIO({"n": op_in["n"] + 1, "f": p})


@OP.function
def square(x: int) -> {"y": int}:
    return {"y": x * x}


@OP.function
def total(ys: List[int]) -> {"s": int}:
    return {"s": sum(ys)}


@OP.function
def add(a: int, b: int) -> {"c": int}:
    return {"c": a + b}


@OP.function
def inc(n: int) -> {"n": int}:
    return {"n": n + 1}


def chain(n: int = 50) -> Workflow:
    wf = Workflow("chain")
    t = PythonOPTemplate(PassOn)
    prev = Step("s0", t, parameters={"n": 0})
    wf.add(prev)
    for i in range(1, n):
        s = Step(f"s{i}", t, parameters={"n": prev.outputs.parameters["n"]}, artifacts={"f": prev.outputs.artifacts["f"]})
        wf.add(s)
        prev = s
    return wf


def fanout(n: int = 200) -> Workflow:
    wf = Workflow("fanout")
    sq = Step("sq", PythonOPTemplate(square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
              parameters={"x": list(range(n))}, with_param=argo_range(n))
    wf.add(sq)
    wf.add(Step("sum", PythonOPTemplate(total), parameters={"ys": sq.outputs.parameters["y"]}))
    return wf


def layered_dag(layers: int = 7, width: int = 14) -> Workflow:
    dag = DAG("layers")
    t = PythonOPTemplate(add)
    src = Task("src", t, parameters={"a": 0, "b": 1})
    dag.add(src)
    prev = [src]
    for li in range(layers):
        cur = []
        for wi in range(width):
            a, b = prev[wi % len(prev)], prev[(wi + 1) % len(prev)]
            task = Task(f"l{li}-{wi}", t, parameters={"a": a.outputs.parameters["c"], "b": b.outputs.parameters["c"]})
            dag.add(task)
            cur.append(task)
        prev = cur
    sink = Task("sink", t, parameters={"a": prev[0].outputs.parameters["c"], "b": prev[-1].outputs.parameters["c"]})
    dag.add(sink)
    return Workflow("dag", dag=dag)


def recursion(depth: int = 30) -> Workflow:
    loop = Steps("loop")
    loop.inputs.parameters["n"] = InputParameter(value=0)
    s = Step("inc", PythonOPTemplate(inc), parameters={"n": loop.inputs.parameters["n"]})
    loop.add(s)
    loop.add(Step("next", loop, parameters={"n": s.outputs.parameters["n"]},
                  when="%s < %d" % (s.outputs.parameters["n"], depth)))
    return Workflow("recurse", steps=loop)


def big_fanout(n: int = 10000) -> Workflow:
    wf = Workflow("big")
    wf.add(Step("sq", PythonOPTemplate(square, slices=Slices(input_parameter=["x"], output_parameter=["y"])),
                parameters={"x": list(range(n))}, with_param=argo_range(n)))
    return wf


class BigFile(OP):
    """Writes a file of ``mb`` MiB, or passes its input file on; returns the file's size."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"mb": int, "f": Artifact(Path, optional=True)})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"size": int, "f": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        p = op_in["f"]
        if p is None:
            p = Path("big.bin")
            block = bytes(1 << 20)
            with open(p, "wb") as f:
                for _ in range(op_in["mb"]):
                    f.write(block)
        return OPIO({"size": p.stat().st_size, "f": p})


def large_file(n: int = 4, mb: int = 256) -> Workflow:
    """A simulation's output (one large file) read by the steps after it, each passing it on."""
    wf = Workflow("large")
    t = PythonOPTemplate(BigFile)
    prev = Step("s0", t, parameters={"mb": mb})
    wf.add(prev)
    for i in range(1, n):
        s = Step(f"s{i}", t, parameters={"mb": mb}, artifacts={"f": prev.outputs.artifacts["f"]})
        wf.add(s)
        prev = s
    return wf


WORKLOADS = {
    "chain-50": (chain, 50, 1.0),
    "fanout-200+gather": (fanout, 201, 2.0),
    "dag-100": (layered_dag, 100, 1.5),
    "recursion-30": (recursion, 30, 1.0),
    "fanout-10000": (big_fanout, 10000, 60.0),
    "large-file-4": (large_file, 4, 10.0),
}


BASELINE_REV = "fc13f6f"  # the local engine with warm workers shared by steps (before isolation)
ROOT = Path(__file__).resolve().parent.parent


def baseline_python() -> Optional[str]:
    """The interpreter of the previous engine's checkout (made once under .bench/), or None."""
    if os.environ.get("BENCH_BASELINE", "1") == "0":
        return None
    bench = ROOT / ".bench"
    src, venv = bench / f"baseline-{BASELINE_REV}", bench / f"baseline-{BASELINE_REV}-venv"
    py = venv / "bin" / "python"
    if py.exists():
        return str(py)
    bench.mkdir(exist_ok=True)
    try:
        if not src.exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(src), BASELINE_REV],
                           check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-e", str(src / "core"),
                        "-e", str(src / "plugins" / "debug_backend"), "python-dateutil<3"], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"(no previous-engine baseline: {e})", file=sys.stderr)
        return None
    return str(py)


def _one(name: str) -> Dict[str, Any]:
    """Run one workload in this (fresh) process; print its figures as JSON."""
    build = WORKLOADS[name][0]
    work = tempfile.mkdtemp(prefix=f"dflow-bench-{name}-")
    os.chdir(work)
    config["mode"] = "debug"
    config["debug_workdir"] = work
    wf = build()
    me = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = me.ru_utime + me.ru_stime  # what the script spent before submit() (imports, building)
    t0 = time.perf_counter()
    wf.submit()
    phase = wf.wait()
    elapsed = time.perf_counter() - t0
    if phase != "Succeeded":
        raise SystemExit(f"{name}: workflow ended {phase}: {wf.query().message}")
    tree = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    children, own = tree.ru_maxrss / 1024, me.ru_maxrss / 1024
    # CPU of the whole process tree after the run (the driver, the fork server and every attempt
    # were reaped by then): a machine's noise moves it far less than wall time
    cpu = tree.ru_utime + tree.ru_stime + me.ru_utime + me.ru_stime - cpu0
    t0 = time.perf_counter()
    steps = Workflow(id=wf.id).query_step()  # as a user's next call would, from the records on disk
    query = time.perf_counter() - t0
    pods = [s.record for s in steps if s.type == "Pod" and s.record.started_at and s.record.finished_at]
    # from the first step's start to the last step's end: the engine's pace, without fixed start-up costs
    span = max(r.finished_at for r in pods) - min(r.started_at for r in pods) if pods else elapsed
    return {"seconds": elapsed, "span": span, "cpu": cpu, "peak_mb_self": own, "peak_mb_children": children,
            "query_step": query, "work": work}


_FLOOR = """
import gc, os, resource, sys, time
sys.path.insert(0, {here!r})
import dflow.runtime, local_engine  # what the fork server holds: the runtime and the run's OPs
gc.collect(); gc.freeze()
n = {n}
r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
t = time.perf_counter() - t0
r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = lambda r: r.ru_utime + r.ru_stime
print((cpu(r1) - cpu(r0) + cpu(c1) - cpu(c0)) / n, t / n)
"""


def isolation_floor(n: int = 300) -> Dict[str, float]:
    """What a process per step costs at the least on this machine: a process holding what the fork
    server holds forks a child that exits at once; CPU (parent and child) and wall time per fork."""
    out = subprocess.run([sys.executable, "-c", _FLOOR.format(here=str(Path(__file__).parent), n=n)],
                         capture_output=True, text=True, check=True)
    cpu, wall = map(float, out.stdout.split())
    return {"cpu": cpu, "wall": wall}


def interpreter_start(repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import dflow.python, dflow.runtime"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _run(python: str, name: str, tmpdir: Optional[str] = None) -> Dict[str, Any]:
    """One workload in a fresh process of ``python``; its run directory under ``tmpdir`` (else TMPDIR)."""
    env = {**os.environ, "TMPDIR": tmpdir} if tmpdir else None
    t0 = time.perf_counter()
    out = subprocess.run([python, __file__, "--one", name], capture_output=True, text=True, check=False, env=env)
    script = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{name} ({python}) failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    # the whole script, as `time python my_workflow.py` shows it: imports, building, compiling, running
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # the run's directory goes once it is measured (a fan-out of 10,000 leaves about 700 MB)
    shutil.rmtree(result.pop("work"), ignore_errors=True)
    return {**result, "script": script}


def measure(only: List[str], repeats: int, previous: Optional[str], tmpdir: Optional[str]) -> List[Dict[str, Any]]:
    """Medians of each workload on this engine and, interleaved, on the previous one."""
    rows = []
    for name in only:
        _build, steps, target = WORKLOADS[name]
        runs: List[Dict[str, Any]] = []
        base: List[Dict[str, Any]] = []
        for _ in range(1 if name == "fanout-10000" else repeats):
            runs.append(_run(sys.executable, name, tmpdir))  # interleaved: both engines see the same machine
            if previous:
                base.append(_run(previous, name, tmpdir))
        row: Dict[str, Any] = {"name": name, "steps": steps, "target": target}
        for key in ("script", "seconds", "span", "cpu"):
            row[key] = statistics.median(r[key] for r in runs)
            row["old_" + key] = statistics.median(r[key] for r in base) if base else None
        row["peak"] = max(r["peak_mb_self"] + r["peak_mb_children"] for r in runs)
        row["query"] = statistics.median(r["query_step"] for r in runs)
        rows.append(row)
    return rows


def report(rows: List[Dict[str, Any]], where: str, start: float, floor: float) -> None:
    print(f"\n#### Run directories on {where}\n")
    print("| workload | steps | target (s) | script (s) | run (s) | steps (s) | ms per step | previous: script / run / "
          "steps (s) | ratio script / run / steps | vs. a fresh interpreter per step | peak RSS (MB) | query_step (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ok = "" if r["seconds"] < r["target"] else " (missed)"
        if r["old_seconds"] is not None:
            prev = " / ".join(f"{r['old_' + k]:.2f}" for k in ("script", "seconds", "span"))
            ratio = " / ".join(f"{r[k] / r['old_' + k]:.2f}x" for k in ("script", "seconds", "span"))
        else:
            prev = ratio = "-"
        print(f"| {r['name']} | {r['steps']} | < {r['target']:g} | {r['script']:.2f} | {r['seconds']:.2f}{ok} "
              f"| {r['span']:.2f} | {r['span'] / r['steps'] * 1000:.1f} | {prev} | {ratio} "
              f"| {r['seconds'] / (r['steps'] * start):.2f}x | {r['peak']:.0f} | {r['query']:.2f} |")
    print("\nCPU of the whole process tree from submit() to the end (user + system, every process), per step. "
          "Isolation floor: a process holding what the fork server holds forks a child that exits at once, "
          f"median of 3 x 300: {floor * 1000:.2f} ms CPU per fork (parent and child)\n")
    print("| workload | CPU per step (ms) | previous engine | difference | difference less the isolation floor | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        now = r["cpu"] / r["steps"] * 1000
        if r["old_cpu"] is not None:
            old = r["old_cpu"] / r["steps"] * 1000
            cols = f"{old:.2f} | {now - old:.2f} | {now - old - floor * 1000:.2f} | {now / old:.2f}x"
        else:
            cols = "- | - | - | -"
        print(f"| {r['name']} | {now:.2f} | {cols} |")


def main(argv: List[str]) -> int:
    if len(argv) > 1 and argv[1] == "--one":
        print(json.dumps(_one(argv[2])))
        return 0
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    only = argv[1:] or list(WORKLOADS)
    start = interpreter_start()
    floor = statistics.median(isolation_floor()["cpu"] for _ in range(3))
    previous = baseline_python()
    # the disk (TMPDIR, as a user's runs), then tmpfs: a disk's file creation can cost ten times
    # tmpfs's (ext4 without a journal, right after many deletions), which hides the engines' own cost
    places = [(None, f"disk ({tempfile.gettempdir()})")]
    if os.environ.get("BENCH_TMPFS", "1") != "0" and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        places.append(("/dev/shm", "tmpfs (/dev/shm; BENCH_TMPFS=0 leaves it out)"))
    measured = [(where, measure(only, repeats, previous, tmpdir)) for tmpdir, where in places]
    print(f"\ninterpreter start (python -c 'import dflow.python'), median of 7: {start * 1000:.0f} ms")
    print(f"previous engine: {BASELINE_REV if previous else 'not measured'}; medians of {repeats} runs "
          "(1 for fanout-10000), interleaved")
    print("script: the whole `python workflow.py` (imports, build, compile, run); run: submit() to the end; "
          "steps: first step's start to last step's end (the engine's pace)")
    for where, rows in measured:
        report(rows, where, start, floor)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
