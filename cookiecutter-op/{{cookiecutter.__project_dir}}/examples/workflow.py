"""Run the OPs of {{ cookiecutter.package_name }} as a workflow: scale some numbers, then summarize them.

On this machine, with the local backend (dflow-debug), by default::

    python examples/workflow.py

On Argo Workflows, by configuration: install dflow-argo and dflow-minio, build and push
the image (see the README), then::

    export DFLOW_MODE=default DFLOW_HOST=https://argo.example.org:2746 DFLOW_NAMESPACE=argo
    export DFLOW_TOKEN=...                  # a service-account token of the Argo Server
    export DFLOW_S3_STORAGE_TYPE=s3 DFLOW_S3_ENDPOINT=s3.example.org:9000 DFLOW_S3_BUCKET_NAME=...
    export DFLOW_S3_ACCESS_KEY=... DFLOW_S3_SECRET_KEY=...
    export {{ cookiecutter.__env_prefix }}_IMAGE=registry.example.org/{{ cookiecutter.__image_name }}:{{ cookiecutter.version }}
    python examples/workflow.py

dflow reads every ``DFLOW_<KEY>`` variable into ``config`` and every ``DFLOW_S3_<KEY>``
into ``s3_config`` when it is imported.
"""

import os
import sys
from pathlib import Path

from dflow import Step, Workflow, config, download_artifact
from dflow.python import PythonOPTemplate

from {{ cookiecutter.module_name }} import Summarize, scale_values

# the image the steps run in on a cluster (the local backend runs them in this Python)
IMAGE = os.environ.get(
    "{{ cookiecutter.__env_prefix }}_IMAGE",
    "{{ cookiecutter.__image_name }}:{{ cookiecutter.version }}",
)


def build_workflow() -> Workflow:
    """Two steps: ``scale`` writes the scaled numbers to a file, ``summarize`` reads it."""
    scale = Step(
        "scale",
        PythonOPTemplate(scale_values, image=IMAGE),
        parameters={"values": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "factor": 1.5},
    )
    summarize = Step(
        "summarize",
        PythonOPTemplate(Summarize, image=IMAGE),
        parameters={"bins": 3},
        artifacts={"data": scale.outputs.artifacts["data"]},
    )
    wf = Workflow(name="scale-and-summarize")
    wf.add(scale)
    wf.add(summarize)
    return wf


def main() -> int:
    config["mode"] = os.environ.get("DFLOW_MODE", "debug")
    wf = build_workflow()
    wf.submit()
    phase = wf.wait()
    if phase != "Succeeded":
        print(f"workflow {wf.id} ended {phase}", file=sys.stderr)
        return 1
    step = wf.query_step(name="summarize")[0]
    out = step.outputs.parameters
    print(f"count {out['count'].value}, mean {out['mean'].value:g}, stdev {out['stdev'].value:.4g}")
    [histogram] = download_artifact(step.outputs.artifacts["histogram"], path="example-output")
    print(Path(histogram).read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
