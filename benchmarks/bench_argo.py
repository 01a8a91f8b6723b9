"""Size and speed of Argo manifests for large workflows (dflow-argo).

Two workflows, as the issue asks:
* ``chain-1000``: 1,000 Python OP steps, each taking the previous step's output;
* ``fanout-10000``: one Python OP step sliced 10,000 ways (``Slices`` + ``with_param``),
  its gathered output read by a second step.

For each: the median over ``--repeat`` runs of building the user objects, compiling them
to a WorkflowSpec, rendering the Argo manifest, and the manifest's size as JSON (what
Argo Server receives and etcd stores; Argo's limit is about 1 MB per object, and the
dflow spec annotation is included). Run: ``python benchmarks/bench_argo.py``.
"""

# dflow's OP.function signs are dict literals in return annotations ({"y": int}),
# which ruff reads as forward references
# ruff: noqa: F821

import argparse
import json
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

LIMIT_BYTES = 1024 * 1024


from dflow.python import OP  # noqa: E402


@OP.function
def inc(x: int) -> {"y": int}:
    return {"y": x + 1}


@OP.function
def total(xs: list) -> {"s": int}:
    return {"s": sum(xs)}


def build_chain(n: int = 1000) -> Any:
    from dflow import Step, Workflow
    from dflow.python import PythonOPTemplate

    t = PythonOPTemplate(inc, image="python:3.10")
    wf = Workflow("chain")
    prev = None
    for i in range(n):
        x = 0 if prev is None else prev.outputs.parameters["y"]
        prev = Step(f"s{i}", t, parameters={"x": x})
        wf.add(prev)
    return wf


def build_fanout(n: int = 10000) -> Any:
    from dflow import Step, Workflow, argo_range
    from dflow.python import PythonOPTemplate, Slices

    fan = Step(
        "fan",
        PythonOPTemplate(inc, image="python:3.10", slices=Slices(input_parameter=["x"], output_parameter=["y"])),
        parameters={"x": list(range(n))},
        with_param=argo_range(n),
    )
    after = Step("sum", PythonOPTemplate(total, image="python:3.10"), parameters={"xs": fan.outputs.parameters["y"]})
    wf = Workflow("fanout")
    wf.add(fan)
    wf.add(after)
    return wf


def measure(name: str, build: Callable[[], Any], repeat: int) -> Dict[str, Any]:
    from dflow_argo import ArgoBackend

    backend = ArgoBackend()
    t_build: List[float] = []
    t_compile: List[float] = []
    t_render: List[float] = []
    size = 0
    templates = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        wf = build()
        t1 = time.perf_counter()
        spec = wf.compile()
        t2 = time.perf_counter()
        manifest = backend.render(spec)
        t3 = time.perf_counter()
        text = json.dumps(manifest, separators=(",", ":"))
        t_build.append(t1 - t0)
        t_compile.append(t2 - t1)
        t_render.append(t3 - t2)
        size = len(text.encode())
        templates = len(manifest["spec"]["templates"])
    compile_render = [c + r for c, r in zip(t_compile, t_render)]
    return {
        "workflow": name,
        "build_s": statistics.median(t_build),
        "compile_s": statistics.median(t_compile),
        "render_s": statistics.median(t_render),
        "compile_render_s": statistics.median(compile_render),
        "manifest_kB": size / 1024,
        "templates": templates,
        "under_1s": statistics.median(compile_render) < 1.0,
        "under_1MB": size < LIMIT_BYTES,
    }


def main(argv: List[str] = None) -> int:  # type: ignore[assignment]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args(argv)
    rows = [
        measure("chain-1000", build_chain, args.repeat),
        measure("fanout-10000", build_fanout, args.repeat),
    ]
    head = f"{'workflow':<14}{'build s':>9}{'compile s':>11}{'render s':>10}{'compile+render s':>18}{'manifest kB':>13}{'templates':>11}  ok"
    print(f"dflow-argo manifest benchmark, medians of {args.repeat} runs (Python {sys.version.split()[0]})")
    print(head)
    print("-" * len(head))
    for r in rows:
        ok = "yes" if r["under_1s"] and r["under_1MB"] else "NO"
        print(
            f"{r['workflow']:<14}{r['build_s']:>9.3f}{r['compile_s']:>11.3f}{r['render_s']:>10.3f}"
            f"{r['compile_render_s']:>18.3f}{r['manifest_kB']:>13.1f}{r['templates']:>11}  {ok}"
        )
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if all(r["under_1s"] and r["under_1MB"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
