"""Benchmarks of the local engine: the workloads of issue "The local backend at parity".

Run with ``make bench`` (or ``python benchmarks/run.py``). Each workload runs in a
fresh process several times; the table gives medians. The baseline measured in
the same run is the cost of starting a Python interpreter that imports dflow
(what a step costs when every step is a new interpreter, as in the original
dflow's debug mode), so figures are also given as a ratio to
``steps x interpreter start``.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

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


WORKLOADS = {
    "chain-50": (chain, 50, 1.0),
    "fanout-200+gather": (fanout, 201, 2.0),
    "dag-100": (layered_dag, 100, 1.5),
    "recursion-30": (recursion, 30, 1.0),
    "fanout-10000": (big_fanout, 10000, 60.0),
}


def _one(name: str) -> Dict[str, Any]:
    """Run one workload in this (fresh) process; print its figures as JSON."""
    build = WORKLOADS[name][0]
    work = tempfile.mkdtemp(prefix=f"dflow-bench-{name}-")
    os.chdir(work)
    config["mode"] = "debug"
    config["debug_workdir"] = work
    wf = build()
    t0 = time.perf_counter()
    wf.submit()
    phase = wf.wait()
    elapsed = time.perf_counter() - t0
    if phase != "Succeeded":
        raise SystemExit(f"{name}: workflow ended {phase}: {wf.query().message}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_mb_self": own, "peak_mb_children": children}


def interpreter_start(repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import dflow.python, dflow.runtime"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: List[str]) -> int:
    if len(argv) > 1 and argv[1] == "--one":
        print(json.dumps(_one(argv[2])))
        return 0
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    only = argv[1:] or list(WORKLOADS)
    start = interpreter_start()
    rows = []
    for name in only:
        _build, steps, target = WORKLOADS[name]
        runs = []
        reps = 1 if name == "fanout-10000" else repeats
        for _ in range(reps):
            out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stdout, out.stderr, file=sys.stderr)
                return 1
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_mb_self"] + r["peak_mb_children"] for r in runs)
        rows.append((name, steps, med, target, med / (steps * start), med / steps * 1000, peak))
    print(f"\ninterpreter start (python -c 'import dflow.python'), median of 7: {start * 1000:.0f} ms\n")
    print("| workload | steps | median (s) | target (s) | vs. a fresh interpreter per step | ms per step | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    for name, steps, med, target, ratio, per, peak in rows:
        ok = "" if med < target else " (missed)"
        print(f"| {name} | {steps} | {med:.2f}{ok} | < {target:g} | {ratio:.2f}x | {per:.1f} | {peak:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
