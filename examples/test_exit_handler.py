"""An exit handler and lifecycle hooks (Argo's ``onExit`` and step hooks): ``Workflow(on_exit=...)`` runs
a report once the workflow has ended, whatever its end; ``Step(success_hook=..., failure_hook=...)``
runs a step's follow-up when it succeeds or fails, with the step's outputs at hand.
"""
import json

from dflow import HookStep, Step, Workflow, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def simulate(n: int) -> {"energy": float}:
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    return {"energy": -1.5 * n}


@OP.function
def note(text: str) -> {"text": str}:
    print(text)
    return {"text": text}


@OP.function
def report(status: str, failures: str) -> {"line": str}:
    failed = sorted({f["displayName"] for f in json.loads(failures) or []})
    return {"line": f"{status}; failed: {', '.join(failed) or 'none'}"}


def main():
    summary = PythonOPTemplate(report)
    summary.inputs.parameters["status"].value = "{{workflow.status}}"  # an exit handler is given no arguments
    summary.inputs.parameters["failures"].value = "{{workflow.failures}}"
    wf = Workflow(name="campaign", on_exit=summary)
    wf.add(Step("good", PythonOPTemplate(simulate), parameters={"n": 2},
                success_hook=HookStep(PythonOPTemplate(note),
                                      parameters={"text": "energy {{steps.good.outputs.parameters.energy}}"})))
    wf.add(Step("bad", PythonOPTemplate(simulate), parameters={"n": -1}, continue_on_failed=True,
                failure_hook=HookStep(PythonOPTemplate(note), parameters={"text": "cleaning up after bad"})))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    steps = wf.query_step()
    hooks = {s.name: s.outputs.parameters["text"].value for s in steps if ".hooks." in s.name}
    assert hooks == {"good.hooks.success": "energy -3.0", "bad.hooks.failure": "cleaning up after bad"}, hooks
    exit_node = [s for s in steps if s.name.endswith(".onExit")]
    assert len(exit_node) == 1, [s.name for s in steps]
    assert exit_node[0].outputs.parameters["line"].value == "Succeeded; failed: bad", exit_node[0].outputs
    print("test_exit_handler OK")


if __name__ == "__main__":
    main()
