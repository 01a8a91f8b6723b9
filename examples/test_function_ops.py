"""Function OPs written the ways dflow reads them, and a superfunction (a DAG of the OPs a function calls).

A function OP's return annotation names its outputs: a dict (or a ``TypedDict``) of
signs; one type, the output ``dflow_output``; ``typing.Tuple[...]``, the outputs
``dflow_output_0``, ``dflow_output_1``, ...; or a ``NamedTuple``, its fields. Called
inside a ``with`` block a function OP adds a task and gives back its outputs as the
function returns them (a dict, the one output, a tuple), ready to be the next call's
inputs. ``@OP.superfunction`` runs such a function once, when it is decorated, and makes
the tasks it adds into a ``DAG`` template with the function's inputs and outputs.
"""
from pathlib import Path
from typing import NamedTuple, Tuple

from dflow import Workflow, config, download_artifact
from dflow.python import OP, Artifact

config["mode"] = "debug"


@OP.function
def scale(x: float, factor: float = 2.0) -> float:
    return x * factor


@OP.function
def split(x: float) -> Tuple[int, float]:
    return int(x), x - int(x)


class Stats(NamedTuple):
    total: float
    count: int


@OP.function
def summarize(values: list) -> Stats:
    return Stats(sum(values), len(values))


@OP.function
def report(name: str, total: float, count: int) -> Artifact(Path):
    Path("report.txt").write_text("%s: %s over %d" % (name, total, count))
    return Path("report.txt")


@OP.superfunction
def measure(name: str, x: float) -> {"whole": int, "report": Artifact(Path)}:
    whole, fraction = split(x=scale(x=x))
    stats = summarize(values=[1.5, 2.5])
    return {"whole": whole, "report": report(name=name, total=stats[0], count=stats[1])}


def main():
    # outside a block a function OP runs at once and gives its outputs by name, as in dflow
    assert scale(x=1.5) == {"dflow_output": 3.0}
    assert split(x=2.25) == {"dflow_output_0": 2, "dflow_output_1": 0.25}

    with Workflow(name="function-ops") as wf:  # leaving the block submits the workflow
        first = measure.use(key="first")(name="first", x=1.75)
        measure.use(key="second")(name="second", x=first["whole"])
    assert wf.query_status() == "Succeeded", wf.query_status()

    first = wf.query_step(key="first")[0]
    assert first.type == "DAG" and first.outputs.parameters["whole"].value == 3  # int(1.75 * 2)
    second = wf.query_step(key="second")[0]
    assert second.outputs.parameters["whole"].value == 6
    [path] = download_artifact(second.outputs.artifacts["report"], path="result")
    assert Path(path).read_text() == "second: 4.0 over 2", Path(path).read_text()
    print("function OPs and a superfunction: OK")


if __name__ == "__main__":
    main()
