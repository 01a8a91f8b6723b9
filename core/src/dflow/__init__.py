"""dflow: scientific computing workflows, from a laptop to Argo Workflows and HPC clusters.

Names are imported lazily, so that ``import dflow.python`` and the step runtime
work inside a container that has nothing but the Python standard library.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Workflow": "workflow",
    "query_workflows": "workflow",
    "Step": "step",
    "Task": "step",
    "Steps": "steps",
    "DAG": "dag",
    "OPTemplate": "op_template",
    "ScriptOPTemplate": "op_template",
    "ShellOPTemplate": "op_template",
    "PythonScriptOPTemplate": "op_template",
    "Inputs": "io",
    "Outputs": "io",
    "InputParameter": "io",
    "InputArtifact": "io",
    "OutputParameter": "io",
    "OutputArtifact": "io",
    "if_expression": "io",
    "Expression": "io",
    "upload_artifact": "artifact",
    "download_artifact": "artifact",
    "S3Artifact": "artifact",
    "LocalArtifact": "artifact",
    "argo_range": "utils",
    "argo_sequence": "utils",
    "argo_len": "utils",
    "argo_enumerate": "utils",
    "Executor": "executor",
    "Resource": "executor",
    "config": "settings",
    "s3_config": "settings",
    "set_config": "settings",
    "set_s3_config": "settings",
    "StorageClient": "storage",
    "LocalStorageClient": "storage",
    "ArgoStep": "argo_objects",
    "WorkflowSpec": "spec",
    "compile_workflow": "compiler",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return __all__
