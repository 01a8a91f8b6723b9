"""dflow: scientific computing workflows, from a laptop to Argo Workflows and HPC clusters.

Names are imported lazily, so that ``import dflow.python`` and the step runtime work
inside a container that has nothing but the Python standard library. ``dflow.config``
and ``dflow.s3_config`` are the settings dicts (``from dflow.config import config`` also
works, as in the original dflow). Names that come with a plugin (``SlurmJobTemplate``,
...) can be imported without it; using them names the distribution to install.
"""

from __future__ import annotations

import importlib
import os

from ._exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Workflow": "workflow",
    "query_workflows": "workflow",
    "Step": "step",
    "Task": "step",
    "HookStep": "step",
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
    "IfExpression": "io",
    "Expression": "io",
    "AutonamedDict": "io",
    "upload_artifact": "artifact",
    "download_artifact": "artifact",
    "S3Artifact": "artifact",
    "LocalArtifact": "artifact",
    "CustomArtifact": "artifact",
    "copy_artifact": "artifact_utils",
    "copy_s3": "artifact_utils",
    "download_s3": "artifact_utils",
    "upload_s3": "artifact_utils",
    "path_list_of_artifact": "artifact_utils",
    "path_object_of_artifact": "artifact_utils",
    "randstr": "utils",
    "argo_range": "loops",
    "argo_sequence": "loops",
    "argo_len": "loops",
    "argo_enumerate": "loops",
    "argo_sum": "loops",
    "argo_concat": "loops",
    "Executor": "executor",
    "Resource": "executor",
    "Context": "executor",
    "set_config": "settings",
    "set_s3_config": "settings",
    "StorageClient": "storage",
    "LocalStorageClient": "storage",
    "ArgoStep": "argo_objects",
    "ArgoWorkflow": "argo_objects",
    "WorkflowSpec": "spec",
    "compile_workflow": "compiler",
    "gen_code": "code_gen",
    # names of the original dflow that come with a plugin here
    "SlurmJob": "plugin:slurm",
    "SlurmJobTemplate": "plugin:slurm",
    "SlurmRemoteExecutor": "plugin:slurm",
    "RemoteExecutor": "plugin:slurm",
    "ContainerExecutor": "plugin:container",
    "HTTPOPTemplate": "plugin:http",
    "HTTPArtifact": "plugin:http",
    "Secret": "plugin:secrets",
    "DockerSecret": "plugin:secrets",
    "query_archived_workflows": "plugin:archive",
    "LineageClient": "plugin:lineage",
    "jsonpickle": "=jsonpickle",
    # modules of the original dflow that code reads as attributes (``dflow.common.S3Artifact``)
    "common": "=dflow.common",
    "context": "=dflow.context",
    "resource": "=dflow.resource",
    "task": "=dflow.task",
}

__all__ = sorted(k for k, v in _EXPORTS.items() if not v.startswith("=dflow.")) + ["config", "s3_config", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

# ``from dflow.config import config`` works (the submodule), and ``dflow.config`` is the dict
importlib.import_module(__name__ + ".config")
from .settings import config, s3_config  # noqa: E402

if os.environ.get("LOG_LEVEL"):  # (logging is imported only then: the step runtime, which imports this
    import logging  # package, stays without it and without threading, whose fork handler every step would run)

    logging.basicConfig(level=getattr(logging, os.environ["LOG_LEVEL"].upper(), None))
