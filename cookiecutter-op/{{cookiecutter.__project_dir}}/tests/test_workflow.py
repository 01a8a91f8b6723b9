"""The OPs in workflows on the local backend (dflow-debug), and the package's discoverability."""

import os
import re
import subprocess
import sys
from pathlib import Path

from dflow import Step, Workflow, download_artifact, upload_artifact
from dflow.ops_catalog import op_packages
from dflow.python import PythonOPTemplate

from {{ cookiecutter.module_name }}.ops import Summarize, scale_values

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "workflow.py"
DISTRIBUTION = "{{ cookiecutter.package_name }}"
ENTRY_POINT = "{{ cookiecutter.module_name }}"


def test_scale_then_summarize(local_backend):
    scale = Step(
        "scale",
        PythonOPTemplate(scale_values),
        parameters={"values": [1.0, 2.0, 3.0, 6.0], "factor": 0.5},
    )
    summarize = Step(
        "summarize",
        PythonOPTemplate(Summarize),
        parameters={"bins": 2},
        artifacts={"data": scale.outputs.artifacts["data"]},
    )
    wf = Workflow(name="scale-and-summarize")
    wf.add(scale)
    wf.add(summarize)
    wf.submit()

    assert wf.query_status() == "Succeeded"
    assert wf.query_step(name="scale")[0].outputs.parameters["total"].value == 6.0
    step = wf.query_step(name="summarize")[0]
    assert step.outputs.parameters["count"].value == 4
    assert step.outputs.parameters["mean"].value == 1.5
    [histogram] = download_artifact(step.outputs.artifacts["histogram"], path="downloaded")
    assert [line.split()[2] for line in Path(histogram).read_text().splitlines()] == ["3", "1"]


def test_a_bad_input_file_fails_the_step(local_backend):
    Path("bad.txt").write_text("1\nnot a number\n")
    wf = Workflow(name="bad-input")
    wf.add(
        Step(
            "summarize",
            PythonOPTemplate(Summarize),
            artifacts={"data": upload_artifact("bad.txt")},
        )
    )
    wf.submit()
    assert wf.query_status() == "Failed"
    step = wf.query_step(name="summarize")[0]
    assert step.phase == "Failed"
    assert "not a number" in (step.message or "")


def normalized(name: str) -> str:
    """A distribution name in its PEP 503 form (metadata may spell it otherwise)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_package_lists_its_ops_in_the_dflow_ops_entry_point():
    [package] = op_packages(ENTRY_POINT)
    assert normalized(package.distribution) == normalized(DISTRIBUTION)
    assert {op.__name__ for op in package.load()} == {"Summarize", "scale_values"}


def test_the_example_runs_on_the_local_backend(workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFLOW_")}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mean 5.25" in proc.stdout
