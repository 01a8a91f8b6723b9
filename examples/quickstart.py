"""Quick start: find the damping that brings an oscillator to rest best, on this machine.

A small but real scientific-style workflow (run it with ``make demo``):

* a fan-out of "simulations" over slices: each slice integrates a damped
  oscillator x'' + c x' + x = 0 from x=1 for one damping coefficient c, computes
  the cost J = integral of x(t)^2, and writes its trajectory to a file;
* a DAG that gathers them: one task finds the best c from the gathered
  settling times, another writes a report from the gathered trajectories;
* a loop that recurses until a condition holds: each round narrows the grid of
  c around the best value, until the grid is finer than the tolerance.

The answer is known: J(c) = c/2 + 1/(2c) (from the Lyapunov equation), so the
best damping is c = 1 with J = 1, and the script checks it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from dflow import (
    DAG,
    InputParameter,
    OutputArtifact,
    OutputParameter,
    Step,
    Steps,
    Task,
    Workflow,
    argo_len,
    argo_range,
    config,
    download_artifact,
)
from dflow.display import format_tree
from dflow.python import OP, OPIO, Artifact, OPIOSign, PythonOPTemplate, Slices

config["mode"] = "debug"


@OP.function
def make_grid(center: float, width: float, points: int) -> {"grid": List[float], "spacing": float}:
    """``points`` damping values evenly spread over [center - width, center + width]."""
    lo = max(0.05, center - width)
    step = (center + width - lo) / (points - 1)
    return {"grid": [round(lo + i * step, 6) for i in range(points)], "spacing": step}


class Simulate(OP):
    """Integrate x'' + c x' + x = 0 from x=1, v=0 and report J = integral of x^2 dt."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"c": float})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"cost": float, "trajectory": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        c, dt, x, v, t = op_in["c"], 1e-3, 1.0, 0.0, 0.0
        cost, rows = 0.0, []
        while t < 40.0:
            a = -c * v - x
            v += a * dt
            x += v * dt
            t += dt
            cost += x * x * dt
            if int(round(t / dt)) % 500 == 0:
                rows.append(f"{t:.2f} {x:.6f}")
        out = Path(f"trajectory-c{c:.4f}.txt")
        out.write_text("\n".join(rows) + "\n")
        return OPIO({"cost": round(cost, 6), "trajectory": out})


@OP.function
def pick_best(grid: List[float], cost: List[float]) -> {"best": float, "cost": float}:
    i = min(range(len(grid)), key=lambda k: cost[k])
    return {"best": grid[i], "cost": cost[i]}


class Report(OP):
    """One line per simulation: damping, cost, and the trajectory file it came from."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"grid": List[float], "cost": List[float], "trajectories": Artifact(List[Path])})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"report": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        lines = [f"c={c:<9.4f} J={j:8.5f}  ({Path(p).name})"
                 for c, j, p in zip(op_in["grid"], op_in["cost"], op_in["trajectories"])]
        out = Path("report.txt")
        out.write_text("\n".join(lines) + "\n")
        return OPIO({"report": out})


def build_workflow() -> Workflow:
    from dflow import InputArtifact

    gather = DAG("gather")
    gather.inputs.parameters["grid"] = InputParameter()
    gather.inputs.parameters["cost"] = InputParameter()
    gather.inputs.artifacts["trajectories"] = InputArtifact()
    best = Task("best", PythonOPTemplate(pick_best),
                parameters={"grid": gather.inputs.parameters["grid"], "cost": gather.inputs.parameters["cost"]})
    report = Task("report", PythonOPTemplate(Report),
                  parameters={"grid": gather.inputs.parameters["grid"], "cost": gather.inputs.parameters["cost"]},
                  artifacts={"trajectories": gather.inputs.artifacts["trajectories"]},
                  dependencies=[best])
    gather.add([best, report])
    gather.outputs.parameters["best"] = OutputParameter(value_from_parameter=best.outputs.parameters["best"])
    gather.outputs.artifacts["report"] = OutputArtifact(_from=report.outputs.artifacts["report"])

    rnd = Steps("refine")
    for name, value in (("center", 2.0), ("width", 1.8), ("round", 0), ("tol", 0.02)):
        rnd.inputs.parameters[name] = InputParameter(value=value)
    rnd.outputs.parameters["best"] = OutputParameter()
    rnd.outputs.artifacts["report"] = OutputArtifact()

    grid = Step("grid", PythonOPTemplate(make_grid),
                parameters={"center": rnd.inputs.parameters["center"], "width": rnd.inputs.parameters["width"],
                            "points": 9},
                key="grid-%s" % rnd.inputs.parameters["round"])
    sweep = Step(
        "simulate",
        PythonOPTemplate(Simulate, slices=Slices(input_parameter=["c"], output_parameter=["cost"],
                                                 output_artifact=["trajectory"])),
        parameters={"c": grid.outputs.parameters["grid"]},
        with_param=argo_range(argo_len(grid.outputs.parameters["grid"])),
        key="sim-%s-{{item}}" % rnd.inputs.parameters["round"],
    )
    analyze = Step("gather", gather,
                   parameters={"grid": grid.outputs.parameters["grid"], "cost": sweep.outputs.parameters["cost"]},
                   artifacts={"trajectories": sweep.outputs.artifacts["trajectory"]})
    again = Step(
        "next-round", rnd,
        parameters={"center": analyze.outputs.parameters["best"], "width": grid.outputs.parameters["spacing"],
                    "round": "{{=asInt(inputs.parameters.round) + 1}}", "tol": rnd.inputs.parameters["tol"]},
        when="%s > %s" % (grid.outputs.parameters["spacing"], rnd.inputs.parameters["tol"]),
    )
    rnd.add(grid)
    rnd.add(sweep)
    rnd.add(analyze)
    rnd.add(again)
    rnd.outputs.parameters["best"].value_from_parameter = analyze.outputs.parameters["best"]
    rnd.outputs.artifacts["report"]._from = analyze.outputs.artifacts["report"]

    wf = Workflow("quickstart")
    wf.add(Step("search", rnd))
    return wf


def main() -> int:
    wf = build_workflow()
    wf.submit()
    phase = wf.wait()
    backend = wf.backend
    print(format_tree(backend.get_workflow(wf.id), backend.list_steps(wf.id)))
    if phase != "Succeeded":
        print(f"\nthe workflow ended {phase}: {wf.query().message}", file=sys.stderr)
        return 1
    rounds = sorted(wf.query_step(name="gather", type="DAG"), key=lambda s: s.record.started_at)
    bests = [r.outputs.parameters["best"].value for r in rounds]
    files = download_artifact(rounds[-1].outputs.artifacts["report"], path=Path("quickstart-results").resolve())
    print(f"\nbest damping, round by round: {bests}  (exact answer: c = 1)")
    print(f"report of the last round:     {files[0]}")
    print(f"every step's inputs, outputs, log and workdir: {wf.query().location}")
    print(f"look at it again with:        DFLOW_MODE=debug dflow get {wf.id}   (from {Path.cwd()})")
    assert abs(bests[-1] - 1.0) < 0.02, f"expected a damping near 1, got {bests[-1]}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
